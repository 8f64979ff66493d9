/**
 * Kubeconfig loading. Errors name the source and the problem, never the content: a kubeconfig holds
 * credentials, and YAML parser messages quote the offending line.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { AcrFleetError } from '../errors.js';

/** Builds a KubeConfig from kubeconfig text. `source` names it in errors; `baseDir` anchors relative paths. */
export function kubeConfigFromText(text: string, source: string, baseDir?: string): KubeConfig {
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    const mark = err instanceof yaml.YAMLException && err.mark ? ` at line ${err.mark.line + 1}` : '';
    throw new AcrFleetError(`${source}: invalid YAML${mark}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new AcrFleetError(`${source}: not a kubeconfig (expected a mapping)`);
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text, { onInvalidEntry: 'throw' });
  } catch (err) {
    // client-node's own messages name a field ("clusters[0].cluster.server is missing"), not a value.
    throw new AcrFleetError(`${source}: ${err instanceof Error ? err.message.split('\n')[0] : 'invalid kubeconfig'}`);
  }
  if (baseDir) kc.makePathsAbsolute(baseDir);
  if (!kc.getCurrentContext()) throw new AcrFleetError(`${source}: no current-context`);
  if (!kc.getCurrentCluster()) throw new AcrFleetError(`${source}: current-context "${kc.getCurrentContext()}" names no cluster`);
  return kc;
}

/** Reads a kubeconfig file. */
export async function kubeConfigFromFile(file: string, display: string): Promise<KubeConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AcrFleetError(`kubeconfig ${display}: ${code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? 'error'})`}`);
  }
  return kubeConfigFromText(text, `kubeconfig ${display}`, path.dirname(file));
}
