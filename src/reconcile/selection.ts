/**
 * Selection, decided once: which settings a cluster runs with (fleet.yaml, or its add-on ConfigMap for
 * `settings: configmap`), which registries it pulls from, which namespaces it watches and which
 * ServiceAccounts it selects. The planner (timer), the webhook and register all ask here, so they cannot
 * disagree. Pure except {@link selectionOf}, which reads the ConfigMap through the reader it is given.
 */
import { ACR_CONFIGURATION, configMapContext, parseAcrConfiguration } from '../config/configmap.js';
import type { Cluster, NamespaceSelection, Registry } from '../config/resolve.js';
import { AcrFleetError } from '../errors.js';
import type { Observed } from './state.js';

/** The settings selection and planning read, and the webhook's. */
export type SelectionSettings = Pick<
  Cluster,
  'namespaces' | 'serviceAccounts' | 'expiringThresholdMs' | 'secretName' | 'webhook' | 'acceleration'
>;

/** A cluster's effective settings and the registries its Secret holds credentials for. */
export interface ClusterSelection {
  settings: SelectionSettings;
  registries: Registry[];
  /**
   * ConfigMap entries that asked for more than fleet.yaml allows this cluster (refused: no token is fetched for
   * them), and notes on values that were clamped. One line each, without the cluster's name.
   */
  notices?: { refused: string[]; warnings: string[] };
}

/** The one read selection makes: a ConfigMap's data, undefined when it does not exist. */
export interface ConfigMapReader {
  readConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}

/** A namespace that was asked for but is left alone, and why. */
export interface SkippedNamespace {
  namespace: string;
  reason: 'not found' | 'terminating';
}

/**
 * A cluster's selection. A `settings: configmap` cluster's comes from its ConfigMap (read through `reader`,
 * only then); any other's from fleet.yaml, its registry names looked up among the fleet's.
 */
export async function selectionOf(
  cluster: Cluster,
  fleetRegistries: readonly Registry[],
  reader: ConfigMapReader,
): Promise<ClusterSelection> {
  if (cluster.settingsSource === 'configmap') {
    const selection = await fromConfigMap(cluster, fleetRegistries, reader);
    if (selection.registries.length === 0) {
      const why = selection.notices?.refused[0] ?? 'ConfigMap acr-registry-info: no entry';
      throw new AcrFleetError(
        `${why}; no registry left that fleet.yaml allows this cluster (clusters[].configmap.registries)`,
      );
    }
    return selection;
  }
  // Names were checked against the fleet's registries when the config was loaded.
  return {
    settings: cluster,
    registries: cluster.registries.flatMap((n) => fleetRegistries.find((r) => r.name === n) ?? []),
  };
}

/**
 * A migrated cluster's settings and registries, read from its add-on ConfigMap as the add-on would, narrowed to
 * what fleet.yaml allows it (`clusters[].configmap.registries`): the registries are fleet.yaml's own, never
 * built from the ConfigMap. ({@link selectionOf} fails a cluster left with no allowed registry.)
 */
export async function fromConfigMap(
  cluster: Cluster,
  fleetRegistries: readonly Registry[],
  reader: ConfigMapReader,
): Promise<ClusterSelection> {
  const { namespace, name } = ACR_CONFIGURATION;
  const data = await reader.readConfigMap(namespace, name);
  if (!data) throw new AcrFleetError(`${namespace}/${name}: not found (the cluster is set to settings: configmap)`);
  const parsed = parseAcrConfiguration(
    data,
    `${namespace}/${name}`,
    configMapContext(cluster, { registries: [...fleetRegistries] }),
  );
  return {
    settings: { ...cluster, ...parsed.settings, webhook: { ...cluster.webhook, ...parsed.settings.webhook } },
    registries: parsed.registries,
    notices: { refused: parsed.refused, warnings: parsed.warnings },
  };
}

/** Whether the selection watches a namespace (by name; whether it exists is the observer's business). */
export function watchesNamespace(selection: NamespaceSelection, namespace: string): boolean {
  return selection.all ? !selection.exclude.includes(namespace) : selection.names.includes(namespace);
}

/** Whether the selection picks a ServiceAccount. A name not known yet (`generateName`) is picked only by "*". */
export function selectsServiceAccount(selection: Cluster['serviceAccounts'], name: string): boolean {
  return selection === '*' || selection.includes(name);
}

/**
 * The namespaces that get the Secret (sorted), those asked for but left alone (missing or being deleted), and
 * those being deleted (never written to). Every live namespace the selection watches is a target.
 */
export function targetNamespaces(
  selection: NamespaceSelection,
  observed: Pick<Observed, 'namespaces'>,
): { targets: string[]; skipped: SkippedNamespace[]; terminating: Set<string> } {
  const terminating = new Set(observed.namespaces.filter((n) => n.terminating).map((n) => n.name));
  const live = new Set(observed.namespaces.filter((n) => !n.terminating).map((n) => n.name));
  const targets: string[] = [];
  const skipped: SkippedNamespace[] = [];
  // "All" asks for every namespace there is; a list may name one that is not there.
  for (const name of selection.all ? observed.namespaces.map((n) => n.name) : selection.names) {
    if (!watchesNamespace(selection, name)) continue;
    if (live.has(name)) targets.push(name);
    else skipped.push({ namespace: name, reason: terminating.has(name) ? 'terminating' : 'not found' });
  }
  return { targets: targets.sort(), skipped, terminating };
}
