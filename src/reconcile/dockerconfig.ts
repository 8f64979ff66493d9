/**
 * The Secret content: a `.dockerconfigjson` with one `auths` entry per registry domain, and the
 * annotations that let the next run decide without reading the credentials.
 */
import { createHash } from 'node:crypto';
import { isRegistryDomain } from '../config/rules.js';
import { AcrFleetError } from '../errors.js';
import type { RegistryToken } from '../tokens/source.js';
import {
  DOCKERCONFIGJSON_TYPE,
  EXPIRES_AT_ANNOTATION,
  INPUTS_HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  REGISTRIES_ANNOTATION,
  type DesiredSecret,
} from './state.js';

/** What every namespace's Secret of a cluster holds; computed once per cluster. */
export interface SecretTemplate {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  data: Record<string, string>;
  type: string;
  expiresAt: number;
  inputsHash: string;
}

/**
 * ACK's on-demand image loading (DADI accelerated images) takes pull Secrets labelled so (issue 18; the ACS
 * guide "使用按需加载镜像加速容器启动", doc 2835665, section 使用镜像加速, on giving the runtime the pull credential).
 */
export const ACCELERATED_LABEL = 'images.alibabacloud.com/accelerated';

/**
 * Builds the Secret content from the cluster's tokens (in the cluster's registry order). `accelerated` adds
 * ACCELERATED_LABEL; it is part of the inputs hash, so a Secret without it is rewritten once and one that carries
 * it is not rewritten for it (the hash of a Secret without the option is what it always was).
 */
export function secretTemplate(
  tokens: readonly RegistryToken[],
  options: { accelerated?: boolean } = {},
): SecretTemplate {
  const auths: Record<string, { username: string; password: string; auth: string }> = {};
  const owner = new Map<string, string>();
  for (const t of tokens) {
    for (const domain of t.domains) {
      // The token sources keep only registry domains (src/tokens/domains.ts); nothing else becomes a key.
      if (!isRegistryDomain(domain))
        throw new AcrFleetError(
          `registry ${t.registry}: ${JSON.stringify(domain.slice(0, 253))} is not a registry domain`,
        );
      const first = owner.get(domain);
      if (first !== undefined && first !== t.registry) {
        throw new AcrFleetError(`domain ${domain} is served by both registry ${first} and registry ${t.registry}`);
      }
      owner.set(domain, t.registry);
      auths[domain] = {
        username: t.username,
        password: t.password,
        auth: Buffer.from(`${t.username}:${t.password}`).toString('base64'),
      };
    }
  }
  const sorted = Object.fromEntries(Object.entries(auths).sort(([a], [b]) => a.localeCompare(b)));
  const expiresAt = Math.min(...tokens.map((t) => t.expiresAt));
  const inputsHash = hashInputs(tokens, options.accelerated === true);
  return {
    labels: {
      [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
      ...(options.accelerated ? { [ACCELERATED_LABEL]: 'true' } : {}),
    },
    annotations: {
      [EXPIRES_AT_ANNOTATION]: new Date(expiresAt).toISOString(),
      [INPUTS_HASH_ANNOTATION]: inputsHash,
      [REGISTRIES_ANNOTATION]: tokens.map((t) => t.registry).join(','),
    },
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: sorted })).toString('base64') },
    type: DOCKERCONFIGJSON_TYPE,
    expiresAt,
    inputsHash,
  };
}

/** The template placed in one namespace under one name. */
export function desiredSecret(t: SecretTemplate, namespace: string, name: string): DesiredSecret {
  return {
    namespace,
    name,
    labels: { ...t.labels },
    annotations: { ...t.annotations },
    data: { ...t.data },
    type: t.type,
  };
}

/** Hash of what the Secret is for (registries and domains), never of the credentials. */
function hashInputs(tokens: readonly RegistryToken[], accelerated: boolean): string {
  const inputs = tokens
    .map((t) => ({ registry: t.registry, domains: [...t.domains].sort() }))
    .sort((a, b) => a.registry.localeCompare(b.registry));
  return (
    'sha256:' +
    createHash('sha256')
      .update(JSON.stringify({ v: 1, inputs, ...(accelerated ? { accelerated } : {}) }))
      .digest('hex')
      .slice(0, 32)
  );
}
