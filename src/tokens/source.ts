/**
 * Token sources: one per registry edition, behind one small interface. A source turns a configured
 * registry into a login valid for a set of registry domains.
 */
import type { Registry } from '../config/resolve.js';

/** Credentials for a set of registry domains, valid until `expiresAt` (epoch ms). */
export interface RegistryToken {
  registry: string;
  domains: string[];
  /** Domains the cloud named that are not registry domains: dropped (./domains.ts), for the log. */
  droppedDomains?: string[];
  username: string;
  password: string;
  expiresAt: number;
}

/** Fetches a token for a registry of the edition it serves. */
export interface TokenSource {
  fetch(registry: Registry): Promise<RegistryToken>;
}
