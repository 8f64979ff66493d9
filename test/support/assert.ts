/** Reads what acr-fleet left in an emulated cluster. */
import type { AlibabaEmulator } from '../emulators/alibaba/index.js';
import type { KubeEmulator } from '../emulators/kube/index.js';

import { ACCOUNT, HOME_REGION, kmsKubeconfigName, SECRET } from './fleet.js';

export { SECRET } from './fleet.js';

interface Auth {
  username: string;
  password: string;
  auth: string;
}

/** The `auths` of a dockerconfigjson Secret, decoded. */
export function auths(kube: KubeEmulator, namespace: string, name = SECRET): Record<string, Auth> {
  const secret = kube.get('secrets', namespace, name) as { type: string; data: Record<string, string> } | undefined;
  if (!secret) throw new Error(`no Secret ${namespace}/${name}`);
  const config = JSON.parse(Buffer.from(secret.data['.dockerconfigjson'] ?? '', 'base64').toString('utf8')) as {
    auths: Record<string, Auth>;
  };
  return config.auths;
}

/** Domains of a Secret whose credentials the registry emulator accepts (and whose `auth` field agrees). */
export function loginDomains(cloud: AlibabaEmulator, kube: KubeEmulator, namespace: string): string[] {
  return Object.entries(auths(kube, namespace))
    .filter(
      ([domain, a]) =>
        a.auth === Buffer.from(`${a.username}:${a.password}`).toString('base64') &&
        cloud.canLogin(domain, a.username, a.password),
    )
    .map(([domain]) => domain)
    .sort();
}

/** `imagePullSecrets` names of a ServiceAccount. */
export function pullSecrets(kube: KubeEmulator, namespace: string, name = 'default'): string[] {
  const sa = kube.get('serviceaccounts', namespace, name) as { imagePullSecrets?: { name: string }[] } | undefined;
  if (!sa) throw new Error(`no ServiceAccount ${namespace}/${name}`);
  return (sa.imagePullSecrets ?? []).map((r) => r.name);
}

/** Every stored object's kind/namespace/name@resourceVersion: equal snapshots mean nothing was written. */
export function snapshot(kube: KubeEmulator): string[] {
  return (['namespaces', 'secrets', 'serviceaccounts'] as const).flatMap((kind) =>
    kube
      .list(kind)
      .map(
        (o: { metadata: { namespace?: string; name: string; resourceVersion: string } }) =>
          `${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}@${o.metadata.resourceVersion}`,
      ),
  );
}

/** Write requests (anything but GET) the cluster received. */
export function writes(kube: KubeEmulator): string[] {
  return kube.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
}

/** The KMS secret (sandbox account, home region) `register` keeps a cluster's kubeconfig in, if any. */
export function storedKubeconfig(cloud: AlibabaEmulator, cluster: string): { data: string } | undefined {
  return cloud.getKmsSecret(ACCOUNT, HOME_REGION, kmsKubeconfigName(cluster));
}
