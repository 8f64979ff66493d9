/**
 * The per-run token broker: at most one fetch per registry per run, shared by every cluster, and
 * nothing fetched for a registry no cluster asks for.
 */
import { AcrFleetError, describeError } from '../errors.js';
import type { Registry } from '../config/resolve.js';
import type { RegistryToken, TokenSource } from './source.js';

/** Sources by edition. */
export type TokenSources = Record<Registry['edition'], TokenSource>;

export class TokenBroker {
  private readonly inflight = new Map<string, Promise<RegistryToken>>();
  private readonly byName: Map<string, Registry>;

  constructor(registries: readonly Registry[], private readonly sources: TokenSources) {
    this.byName = new Map(registries.map((r) => [r.name, r]));
  }

  /** The token of a registry, fetched on first request. Rejects with an error naming the registry. */
  get(name: string): Promise<RegistryToken> {
    let p = this.inflight.get(name);
    if (!p) {
      const registry = this.byName.get(name);
      p = registry
        ? this.sources[registry.edition].fetch(registry).catch((err: unknown) => {
            throw new AcrFleetError(`registry ${name}: ${describeError(err)}`, { cause: err });
          })
        : Promise.reject(new AcrFleetError(`registry ${name}: not configured`));
      this.inflight.set(name, p);
    }
    return p;
  }

  /** Every token fetched so far that succeeded, by registry name. */
  async fetched(): Promise<RegistryToken[]> {
    const settled = await Promise.allSettled(this.inflight.values());
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }
}
