/**
 * The MutatingWebhookConfiguration `register --webhook` installs in a cluster: ServiceAccount CREATE,
 * AdmissionReview v1, no side effects on dry run, the cluster's failure policy and timeout, and a
 * namespaceSelector that leaves the excluded system namespaces out (the API server does not even call).
 */
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { WebhookSettings } from '../config/resolve.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../reconcile/state.js';

/** Name of the configuration and of its one webhook (webhook names must be fully qualified). */
export const WEBHOOK_CONFIGURATION_NAME = 'acr-fleet';
export const WEBHOOK_NAME = 'serviceaccounts.acr-fleet.io';

export interface WebhookInstall {
  /** The cluster's URL, secret included. */
  url: string;
  /** PEM text of the CA that signs the URL's certificate; none for public CAs. */
  caPem?: string;
  settings: WebhookSettings;
  /** Namespaces the API server never asks about. */
  excludeNamespaces: string[];
}

/** The object, as `kubectl apply` would send it. */
export function webhookConfiguration(
  w: WebhookInstall,
): { kind: 'MutatingWebhookConfiguration' } & V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIGURATION_NAME, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: { url: w.url, ...(w.caPem ? { caBundle: Buffer.from(w.caPem).toString('base64') } : {}) },
        rules: [
          {
            operations: ['CREATE'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['serviceaccounts'],
            scope: 'Namespaced',
          },
        ],
        failurePolicy: w.settings.failurePolicy,
        matchPolicy: 'Equivalent',
        // kubernetes.io/metadata.name is set on every namespace by the API server.
        namespaceSelector: w.excludeNamespaces.length
          ? {
              matchExpressions: [
                { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...w.excludeNamespaces].sort() },
              ],
            }
          : {},
        objectSelector: {},
        sideEffects: 'NoneOnDryRun',
        timeoutSeconds: w.settings.timeoutSeconds,
        reinvocationPolicy: 'Never',
      },
    ],
  };
}
