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
    const { name: _name, ...identity } = registry;
    const key = JSON.stringify(identity);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(registry);
      this.inflight.set(key, p);
    }
    return p;
  }

  /** Every token fetched so far that succeeded, with its retry count. */
  async fetched(): Promise<FetchedToken[]> {
    const settled = await Promise.allSettled(this.inflight.values());
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  private async fetch(registry: Registry): Promise<FetchedToken> {
    const { result, retries } = await countRetries(() => this.sources[registry.edition].fetch(registry));
    if (result.status === 'fulfilled') return { ...result.value, retries };
    const error = new AcrFleetError(`registry ${registry.name}: ${describeError(result.reason)}`, { cause: result.reason });
    // For alerting (SLS): every cluster of this registry fails this run.
    this.log?.error(error.message, { event: 'token-failed', registry: registry.name, error: describeError(result.reason), retries });
    throw error;
  }
}
