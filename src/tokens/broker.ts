/**
 * The per-run token broker: at most one fetch per distinct registry (edition, instance, region,
 * domains and identity chain) per run, shared by every cluster, and nothing fetched for a registry
 * no cluster asks for. Registries that clusters migrated from the add-on's ConfigMap share tokens
 * with identical fleet.yaml registries the same way. Each fetch counts the cloud retries it needed.
 */
import { countRetries } from '../cloud/openapi.js';
import { AcrFleetError, describeError } from '../errors.js';
import type { Registry } from '../config/resolve.js';
import type { Logger } from '../log/logger.js';
import type { RegistryToken, TokenSource } from './source.js';

/** Sources by edition. */
export type TokenSources = Record<Registry['edition'], TokenSource>;

/** A fetched token and the cloud API retries its fetch took. */
export interface FetchedToken extends RegistryToken {
  retries: number;
}

export class TokenBroker {
  private readonly inflight = new Map<string, Promise<FetchedToken>>();

  /** `log` receives one `token-failed` line per registry whose token could not be had. */
  constructor(
    private readonly sources: TokenSources,
    private readonly log?: Logger,
  ) {}

  /** The token of a registry, fetched on first request. Rejects with an error naming the registry. */
  get(registry: Registry): Promise<RegistryToken> {
    const key = keyOf(registry);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(registry);
      this.inflight.set(key, p);
    }
    return p;
  }

  /**
   * For a long-lived caller (the webhook's warm instance): the cached token while it stays valid for more
   * than `validForMs`, else a new fetch. A failed fetch is not kept: the next call tries again.
   */
  async fresh(registry: Registry, validForMs: number, now: number): Promise<RegistryToken> {
    const key = keyOf(registry);
    const cached = this.inflight.get(key);
    if (cached) {
      const token = await cached.catch(() => undefined);
      if (token && token.expiresAt - now > validForMs) return token;
      if (this.inflight.get(key) === cached) this.inflight.delete(key);
    }
    return this.get(registry);
  }

  /** Every token fetched so far that succeeded, with its retry count. */
  async fetched(): Promise<FetchedToken[]> {
    const settled = await Promise.allSettled(this.inflight.values());
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  private async fetch(registry: Registry): Promise<FetchedToken> {
    const { result, retries } = await countRetries(() => this.sources[registry.edition].fetch(registry));
    if (result.status === 'fulfilled') {
      const dropped = result.value.droppedDomains ?? [];
      if (dropped.length)
        this.log?.warn(
          `registry ${registry.name}: not a registry domain, no credentials written for it: ${dropped.join(', ')}`,
          {
            event: 'domain-refused',
            registry: registry.name,
          },
        );
      if (!result.value.domains.length) {
        const error = new AcrFleetError(`registry ${registry.name}: no registry domain to write credentials for`);
        this.log?.error(error.message, {
          event: 'token-failed',
          registry: registry.name,
          error: error.message,
          retries,
        });
        throw error;
      }
      return { ...result.value, retries };
    }
    const error = new AcrFleetError(`registry ${registry.name}: ${describeError(result.reason)}`, {
      cause: result.reason,
    });
    // For alerting (SLS): every cluster of this registry fails this run.
    this.log?.error(error.message, {
      event: 'token-failed',
      registry: registry.name,
      error: describeError(result.reason),
      retries,
    });
    throw error;
  }
}

/** Registries that differ only by name share a token. */
function keyOf(registry: Registry): string {
  const { name: _name, ...identity } = registry;
  return JSON.stringify(identity);
}
