/**
 * Value rules of the services that receive them, so `validate` refuses what they would refuse, and
 * "did you mean" suggestions. Pure; shared by the fleet.yaml schema, the ConfigMap reader and the payload.
 */

/** Alibaba Cloud region ids (`cn-hangzhou`, `ap-southeast-1`): never a host, a port or a path. */
export const REGION = /^[a-z]{2}(-[a-z0-9]+)+$/;
export const REGION_MESSAGE = 'expected a region id such as cn-hangzhou';

/** Kubernetes DNS-1123 label (namespaces): lowercase alphanumerics and "-", at most 63 characters. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Kubernetes DNS-1123 subdomain (Secret, ServiceAccount names): labels joined by ".", at most 253 characters. */
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isLabel(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}
export function isSubdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

/**
 * KMS Secrets Manager secret names (CreateSecret `SecretName`): letters, digits and `_ / + = . @ -`,
 * 1 to 192 characters.
 */
export const KMS_SECRET = /^[A-Za-z0-9_/+=.@-]{1,192}$/;
export const KMS_SECRET_MESSAGE = 'expected a KMS secret name: 1 to 192 letters, digits and _/+=.@-';

/** A registry domain as docker config keys it: an ASCII hostname with at least two labels; no scheme, path or port. */
export function isRegistryDomain(s: string): boolean {
  if (s.length > 253) return false;
  const labels = s.split('.');
  return (
    labels.length >= 2 && labels.every((l) => l.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/.test(l))
  );
}
export const DOMAIN_MESSAGE =
  'expected a registry domain such as registry.cn-hangzhou.aliyuncs.com (ASCII hostname, no scheme, path or port)';

/** Levenshtein distance, for suggestions among a handful of short names. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The candidate closest to `input` (case-insensitively), when it is close enough to be a typo. */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  const wanted = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(wanted, c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // A third of the length, at least 1 and at most 3 edits: "prd" → "prod", not "nope" → "r".
  const limit = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  return bestDistance <= limit ? best : undefined;
}

/** `kebab-case` → `camelCase`. */
export function camelCase(s: string): string {
  return s.replace(/[-_]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The add-on's ConfigMap spellings a migrating user types, mapped to fleet.yaml's keys. */
export const ADDON_SPELLINGS: Readonly<Record<string, string>> = {
  'watch-namespace': 'watchNamespace',
  'service-account': 'serviceAccount',
  'expiring-threshold': 'expiringThreshold',
  'acr-registry-info': 'registries',
  'webhook-configuration': 'webhook',
  'failure-policy': 'failurePolicy',
  'timeout-seconds': 'timeoutSeconds',
  enable: 'enabled',
  namespaces: 'watchNamespace',
  namespace: 'watchNamespace',
  serviceAccounts: 'serviceAccount',
};

/** What a user most likely meant by an unknown key, among the keys valid at that place. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const alias = ADDON_SPELLINGS[key];
  if (alias && known.includes(alias)) return alias;
  const camel = camelCase(key);
  if (camel !== key && known.includes(camel)) return camel;
  return closest(key, known);
}
