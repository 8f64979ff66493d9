/**
 * Edits of fleet.yaml made by `register` and `deregister`: comment-preserving (yaml's Document API),
 * validated before they are written, and written atomically (temp file + rename).
 */
import { rename, writeFile } from 'node:fs/promises';
import { Document, isMap, isSeq, parseDocument, type YAMLMap } from 'yaml';
import { AcrFleetError } from '../errors.js';
import { parseFleet } from './load.js';

/**
 * Adds the cluster, or points an existing entry's `kubeconfig` at the KMS secret. `previousSecretNames`,
 * when given, replaces the entry's list (an empty list removes the key).
 */
export function upsertCluster(
  text: string,
  cluster: {
    name: string;
    kmsSecret: string;
    settings?: 'configmap';
    /** The fleet registries the cluster gets (`registries`); an existing entry keeps its own when absent. */
    registries?: string[];
    /** With `settings: configmap`: the fleet registries its ConfigMap may pick (`configmap.registries`). */
    configmapRegistries?: string[];
    previousSecretNames?: string[];
    /** `kubeconfig.allowPrivateAddress`; an existing entry keeps its own when absent. */
    allowPrivateAddress?: boolean;
  },
): string {
  const doc = parseDocument(text);
  const clusters = doc.get('clusters');
  if (!isSeq(clusters)) throw new AcrFleetError('fleet.yaml: clusters: expected a list');
  let entry = clusters.items.find((c) => isMap(c) && c.get('name') === cluster.name) as YAMLMap | undefined;
  const kubeconfig = (allow: unknown) =>
    doc.createNode(
      { kmsSecret: cluster.kmsSecret, ...(allow === true ? { allowPrivateAddress: true } : {}) },
      { flow: true },
    );
  if (entry) {
    entry.set(
      'kubeconfig',
      kubeconfig(cluster.allowPrivateAddress ?? entry.getIn(['kubeconfig', 'allowPrivateAddress'])),
    );
    if (cluster.settings) entry.set('settings', cluster.settings);
  } else {
    entry = doc.createNode({
      name: cluster.name,
      ...(cluster.settings ? { settings: cluster.settings } : {}),
    }) as YAMLMap;
    entry.set('kubeconfig', kubeconfig(cluster.allowPrivateAddress));
    clusters.add(entry);
  }
  if (cluster.registries) entry.set('registries', doc.createNode(cluster.registries, { flow: true }));
  if (cluster.configmapRegistries)
    entry.set('configmap', doc.createNode({ registries: cluster.configmapRegistries }, { flow: true }));
  const previous = cluster.previousSecretNames;
  if (previous?.length) entry.set('previousSecretNames', doc.createNode(previous, { flow: true }));
  else if (previous) entry.delete('previousSecretNames');
  return String(doc);
}

/**
 * Adds an ACK cluster reached without a stored kubeconfig (`kubeconfig: { ackClusterId, regionId }`), or
 * points an existing entry of that name at it. Creates `clusters:` when the file has none (a discovery-only fleet).
 */
export function upsertAckCluster(text: string, cluster: { name: string; clusterId: string; regionId: string }): string {
  const doc = parseDocument(text);
  let clusters = doc.get('clusters');
  if (clusters === undefined) {
    doc.set('clusters', doc.createNode([]));
    clusters = doc.get('clusters');
  }
  if (!isSeq(clusters)) throw new AcrFleetError('fleet.yaml: clusters: expected a list');
  const kubeconfig = doc.createNode({ ackClusterId: cluster.clusterId, regionId: cluster.regionId }, { flow: true });
  const entry = clusters.items.find((c) => isMap(c) && c.get('name') === cluster.name) as YAMLMap | undefined;
  if (entry) entry.set('kubeconfig', kubeconfig);
  else {
    const created = doc.createNode({ name: cluster.name }) as YAMLMap;
    created.set('kubeconfig', kubeconfig);
    clusters.add(created);
  }
  return String(doc);
}

/** Removes the cluster's entry; the text is unchanged when there is none. */
export function removeCluster(text: string, name: string): string {
  const doc = parseDocument(text);
  const clusters = doc.get('clusters');
  if (!isSeq(clusters)) return text;
  const index = clusters.items.findIndex((c) => isMap(c) && c.get('name') === name);
  if (index < 0) return text;
  clusters.delete(index);
  return String(doc as Document);
}

/** Validates the edited text as fleet.yaml and replaces the file in one step. */
export async function writeFleet(
  file: string,
  display: string,
  text: string,
  env: Record<string, string | undefined>,
): Promise<void> {
  parseFleet(text, { file: display, path: file, env });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
