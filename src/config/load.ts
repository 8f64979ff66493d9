/**
 * Loading fleet.yaml: read → parse YAML → validate the schema → check cross references → resolve
 * defaults. Every problem is collected and reported at once in a ConfigError.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { problemsFromIssues } from './issues.js';
import { fleetSchema, type FleetConfig } from './schema.js';
import { resolveFleet, type Fleet } from './resolve.js';

/** Where a config came from and the environment that fills its gaps. */
export interface LoadOptions {
  /** The path as the user gave it; used verbatim in messages. */
  file: string;
  /** Where to read it; defaults to `file` (relative to the process's directory). */
  path?: string;
  /** Process environment (FC_REGION, ALIBABA_CLOUD_REGION_ID). */
  env?: Record<string, string | undefined>;
}

/** Reads and validates a fleet file. Throws ConfigError listing every problem. */
export async function loadFleet(opts: LoadOptions): Promise<Fleet> {
  let text: string;
  try {
    text = await readFile(opts.path ?? opts.file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(opts.file, [{ path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? 'error'})` }]);
  }
  return parseFleet(text, opts);
}

/** Validates fleet YAML text. Throws ConfigError listing every problem. */
export function parseFleet(text: string, opts: LoadOptions): Fleet {
  const doc = parseYaml(text, opts.file);
  if (doc === undefined || doc === null) {
    throw new ConfigError(opts.file, [{ path: '', message: 'the file is empty (expected a mapping with registries and clusters)' }]);
  }
  const parsed = fleetSchema.safeParse(doc, { reportInput: true });
  if (!parsed.success) throw new ConfigError(opts.file, problemsFromIssues(parsed.error.issues));
  const problems = crossCheck(parsed.data);
  if (problems.length) throw new ConfigError(opts.file, problems);
  return resolveFleet(parsed.data, {
    file: opts.file,
    baseDir: path.dirname(path.resolve(opts.path ?? opts.file)),
    env: opts.env ?? {},
  });
}

/** YAML → plain data. The error quotes no source text: a config may sit next to secrets. */
export function parseYaml(text: string, file: string): unknown {
  try {
    return yaml.load(text, { filename: file, schema: yaml.CORE_SCHEMA });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const where = err.mark ? `line ${err.mark.line + 1}, column ${err.mark.column + 1}: ` : '';
      throw new ConfigError(file, [{ path: '', message: `${where}invalid YAML: ${err.reason}` }]);
    }
    throw err;
  }
}

/** Rules the schema cannot express: unique names and references that resolve. */
function crossCheck(cfg: FleetConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const registryNames = new Set<string>();
  cfg.registries.forEach((r, i) => {
    if (registryNames.has(r.name)) problems.push({ path: `registries[${i}].name`, message: `duplicate registry name "${r.name}"` });
    registryNames.add(r.name);
  });
  const clusterNames = new Set<string>();
  cfg.clusters.forEach((c, i) => {
    if (clusterNames.has(c.name)) problems.push({ path: `clusters[${i}].name`, message: `duplicate cluster name "${c.name}"` });
    clusterNames.add(c.name);
    c.registries?.forEach((r, j) => {
      if (!registryNames.has(r)) problems.push({ path: `clusters[${i}].registries[${j}]`, message: `unknown registry "${r}" (defined: ${[...registryNames].join(', ')})` });
    });
  });
  return problems;
}
