/**
 * `register --webhook`: the cluster's MutatingWebhookConfiguration, built from its resolved settings
 * (a `settings: configmap` cluster's from its ConfigMap's webhook-configuration) and a URL whose secret
 * is derived from the fleet's KMS key (created at first use). The key and the URL are never printed.
 */
import { readFile } from 'node:fs/promises';
import type { Fleet } from '../config/resolve.js';
import { KmsApi, KmsWriter } from '../cloud/kms.js';
import type { OpenApiCaller } from '../cloud/openapi.js';
import { AcrFleetError, CloudError } from '../errors.js';
import { fromConfigMap } from '../reconcile/selection.js';
import type { ClusterClient } from '../kube/cluster-client.js';
import type { OwnedObject } from '../kube/objects.js';
import { webhookConfiguration, WEBHOOK_CONFIGURATION_NAME } from '../policy/webhook-configuration.js';
import { clusterUrl, newWebhookKey } from '../policy/webhook-url.js';

/** The object deregister removes (only its kind and name matter). */
export const WEBHOOK_OBJECT: OwnedObject = {
  kind: 'MutatingWebhookConfiguration',
  apiVersion: 'admissionregistration.k8s.io/v1',
  metadata: { name: WEBHOOK_CONFIGURATION_NAME },
};

/**
 * What fleet.yaml must hold before a webhook can be installed, checked by register before its first write
 * (issue 17: `register --webhook` without `webhook.url` used to rotate the token and the KMS secret first).
 */
export function webhookPreconditions(
  fleet: Fleet,
  clusterName: string,
): { endpoint: NonNullable<Fleet['webhook']>; cluster: Fleet['clusters'][number] } {
  const endpoint = fleet.webhook;
  if (!endpoint)
    throw new AcrFleetError(
      `${fleet.file}: webhook.url: required to install the webhook (the URL of the webhook function's HTTP trigger)`,
    );
  const cluster = fleet.clusters.find((c) => c.name === clusterName);
  if (!cluster) throw new AcrFleetError(`${fleet.file}: no cluster ${clusterName}`);
  return { endpoint, cluster };
}

/** The configuration to install in `clusterName`. Throws a one-line error naming what is missing. */
export async function desiredWebhook(
  fleet: Fleet,
  clusterName: string,
  admin: ClusterClient,
  caller: OpenApiCaller,
): Promise<OwnedObject> {
  const { endpoint, cluster } = webhookPreconditions(fleet, clusterName);
  const settings =
    cluster.settingsSource === 'configmap'
      ? (await fromConfigMap(cluster, fleet.registries, admin)).settings.webhook
      : cluster.webhook;
  if (!settings.enabled) {
    const where =
      cluster.settingsSource === 'configmap'
        ? 'enable: true in webhook-configuration of kube-system/acr-configuration'
        : 'webhook: { enabled: true } in defaults or for the cluster';
    throw new AcrFleetError(`cluster ${clusterName}: the webhook is not enabled (set ${where})`);
  }
  const key = await webhookKey(caller, endpoint.regionId, endpoint.keySecret);
  const caPem = endpoint.caFile
    ? await readFile(endpoint.caFile, 'utf8').catch((err: unknown) => {
        throw new AcrFleetError(
          `${fleet.file}: webhook.caFile: cannot read ${endpoint.caFile ?? ''}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      })
    : undefined;
  return webhookConfiguration({
    url: clusterUrl(endpoint.url, key, clusterName),
    ...(caPem ? { caPem } : {}),
    settings,
    excludeNamespaces: cluster.namespaces.all ? cluster.namespaces.exclude : cluster.excludeNamespaces,
  });
}

/**
 * The fleet's webhook key, created in KMS when it does not exist yet. Create-only: a key is never
 * replaced here, since every installed webhook's URL is derived from it. Two registers racing to create it
 * both end up with the one that was stored first.
 */
async function webhookKey(caller: OpenApiCaller, region: string, secretName: string): Promise<string> {
  const read = async () => {
    try {
      return (await new KmsApi(caller).secretValue(region, secretName)).trim();
    } catch (err) {
      if (err instanceof CloudError && err.code === 'Forbidden.ResourceNotFound') return undefined;
      throw err;
    }
  };
  const existing = await read();
  if (existing) return existing;
  const key = newWebhookKey();
  if (
    await new KmsWriter(caller).create(
      region,
      secretName,
      key,
      'acr-fleet webhook key: per-cluster URL secrets are derived from it',
    )
  )
    return key;
  const stored = await read();
  if (!stored) throw new AcrFleetError(`kms secret ${secretName}: exists but cannot be read`);
  return stored;
}
