/**
 * Loading fleet.yaml: read → parse YAML → validate the schema → check cross references → resolve
 * defaults. Every problem is collected and reported at once in a ConfigError.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { problemsFromIssues } from './issues.js';
import { fleetSchema, INLINE_ACCESS_KEYS, type FleetConfig } from './schema.js';
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
    throw new ConfigError(opts.file, [
      { path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? 'error'})` },
    ]);
  }
  return parseFleet(text, opts);
}

/** Validates fleet YAML text. Throws ConfigError listing every problem. */
export function parseFleet(text: string, opts: LoadOptions): Fleet {
  const doc = parseYaml(text, opts.file);
  if (doc === undefined || doc === null) {
    throw new ConfigError(opts.file, [
      { path: '', message: 'the file is empty (expected a mapping with registries and clusters)' },
    ]);
  }
  const inline = inlineAccessKeys(doc);
  const parsed = fleetSchema.safeParse(doc, { reportInput: true });
  if (!parsed.success) {
    // The schema would call the add-on's inline keys "unknown"; say what to do instead.
    const rest = problemsFromIssues(parsed.error.issues).filter((p) => !inline.some((i) => i.path === p.path));
    throw new ConfigError(opts.file, [...inline, ...rest]);
  }
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

/** The add-on's inline AccessKey keys: refused, with the KMS form to use instead. */
function inlineAccessKeys(doc: unknown): ConfigProblem[] {
  const registries = (doc as { registries?: unknown }).registries;
  if (!Array.isArray(registries)) return [];
  return registries.flatMap((r: unknown, i) =>
    r && typeof r === 'object'
      ? INLINE_ACCESS_KEYS.filter((k) => k in r).map((k) => ({
          path: `registries[${i}].${k}`,
          message:
            'AccessKeys are never accepted inline; store {"AccessKeyId","AccessKeySecret"} in KMS and use accessKey: { kmsSecret: NAME }',
        }))
      : [],
  );
}

/** Rules the schema cannot express: unique names and references that resolve. */
function crossCheck(cfg: FleetConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const registryNames = new Set<string>();
  cfg.registries.forEach((r, i) => {
    if (registryNames.has(r.name))
      problems.push({ path: `registries[${i}].name`, message: `duplicate registry name "${r.name}"` });
    if (Boolean(r.rrsaRoleARN) !== Boolean(r.rrsaOIDCProviderRoleARN)) {
      problems.push({ path: `registries[${i}]`, message: 'rrsaRoleARN and rrsaOIDCProviderRoleARN go together' });
    }
    if (r.rrsaRoleARN && r.accessKey)
      problems.push({ path: `registries[${i}]`, message: 'choose one of rrsaRoleARN and accessKey' });
    if ((r.externalId || r.expireDuration) && !r.assumeRoleARN) {
      problems.push({ path: `registries[${i}]`, message: 'externalId and expireDuration need assumeRoleARN' });
    }
    registryNames.add(r.name);
  });
  const clusterNames = new Set<string>();
  cfg.clusters.forEach((c, i) => {
    if (clusterNames.has(c.name))
      problems.push({ path: `clusters[${i}].name`, message: `duplicate cluster name "${c.name}"` });
    clusterNames.add(c.name);
    c.registries?.forEach((r, j) => {
      if (!registryNames.has(r))
        problems.push({
          path: `clusters[${i}].registries[${j}]`,
          message: `unknown registry "${r}" (defined: ${[...registryNames].join(', ')})`,
        });
    });
  });
  return problems;
}
