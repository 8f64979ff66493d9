/**
 * The per-run token broker: at most one fetch per distinct registry (edition, instance, region,
 * domains and identity chain) per run, shared by every cluster, and nothing fetched for a registry
 * no cluster asks for. Registries that clusters migrated from the add-on's ConfigMap share tokens
 * with identical fleet.yaml registries the same way.
 */
import { AcrFleetError, describeError } from '../errors.js';
import type { Registry } from '../config/resolve.js';
import type { RegistryToken, TokenSource } from './source.js';

/** Sources by edition. */
export type TokenSources = Record<Registry['edition'], TokenSource>;

export class TokenBroker {
  private readonly inflight = new Map<string, Promise<RegistryToken>>();

  constructor(private readonly sources: TokenSources) {}

  /** The token of a registry, fetched on first request. Rejects with an error naming the registry. */
  get(registry: Registry): Promise<RegistryToken> {
    const { name: _name, ...identity } = registry;
    const key = JSON.stringify(identity);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.sources[registry.edition].fetch(registry).catch((err: unknown) => {
        throw new AcrFleetError(`registry ${registry.name}: ${describeError(err)}`, { cause: err });
      });
      this.inflight.set(key, p);
    }
    return p;
  }

  /** Every token fetched so far that succeeded. */
  async fetched(): Promise<RegistryToken[]> {
    const settled = await Promise.allSettled(this.inflight.values());
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }
}
