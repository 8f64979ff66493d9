/**
 * The shapes planning works on: what was observed in a cluster and what acr-fleet wants there.
 * Plain data, no client types, so the planner stays a pure function.
 */

/** Label that marks every object acr-fleet owns; nothing without it is ever modified. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'acr-fleet';
/** Selector for listing owned Secrets (admin use only: the refresh identity lists by name). */
export const OWNED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
/** Earliest expiry (RFC 3339) of the tokens in the Secret. */
export const EXPIRES_AT_ANNOTATION = 'acr-fleet.io/expires-at';
/** Hash of the Secret's non-secret inputs (registries and domains). */
export const INPUTS_HASH_ANNOTATION = 'acr-fleet.io/inputs-hash';
/** Registries whose credentials the Secret holds, for people reading it. */
export const REGISTRIES_ANNOTATION = 'acr-fleet.io/registries';
export const DOCKERCONFIGJSON_TYPE = 'kubernetes.io/dockerconfigjson';

export interface ObservedNamespace {
  name: string;
  /** Being deleted: never written to. */
  terminating: boolean;
}

/** A Secret bearing one of acr-fleet's names, as listed (its data is never looked at). */
export interface ObservedSecret {
  namespace: string;
  name: string;
  resourceVersion: string;
  annotations: Record<string, string>;
  /** Carries the managed-by label. A Secret without it is someone else's and is never modified. */
  owned: boolean;
}

export interface ObservedServiceAccount {
  namespace: string;
  name: string;
  resourceVersion: string;
  /** Names in `imagePullSecrets`, in order. */
  imagePullSecrets: string[];
}

/** A cluster's state as far as acr-fleet cares: three cluster-wide lists. */
export interface Observed {
  namespaces: ObservedNamespace[];
  /** Every Secret named like acr-fleet's (listed by name, not by label), owned or not. */
  secrets: ObservedSecret[];
  serviceAccounts: ObservedServiceAccount[];
}

/** A Secret as acr-fleet wants it. */
export interface DesiredSecret {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Base64 values, as in the API. */
  data: Record<string, string>;
  type: string;
}
