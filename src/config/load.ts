/**
 * Loading fleet.yaml: read → parse YAML → one pass of schema, cross-reference and value checks → resolve
 * defaults. Every problem is collected and reported at once in a ConfigError.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { parseDuration } from './duration.js';
import { discoveryProblems } from './discovery.js';
import { problemsFromIssues } from './issues.js';
import { networkReferences } from './networks.js';
import { closest } from './rules.js';
import { fleetSchema, INLINE_ACCESS_KEYS } from './schema.js';
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

/** A problem with its weight: errors make the file invalid; warnings are printed and change nothing. */
export interface Problem extends ConfigProblem {
  severity: 'error' | 'warning';
}

/** The result of one validation pass over a fleet file. */
export interface FleetCheck {
  /** Every problem found, errors and warnings, in one pass. */
  problems: Problem[];
  /** The resolved fleet, when there is no error. */
  fleet?: Fleet;
}

/** Validates fleet YAML text. Throws ConfigError listing every error; warnings ride on `fleet.warnings`. */
export function parseFleet(text: string, opts: LoadOptions): Fleet {
  const { problems, fleet } = checkFleet(text, opts);
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length || !fleet)
    throw new ConfigError(
      opts.file,
      errors.map(({ path, message }) => ({ path, message })),
    );
  return fleet;
}

/**
 * One validation pass: structure (the schema), cross references (names, registries) and values as their
 * services check them, all reported together, so a structural error hides nothing else.
 * `checkFiles` also checks that the files it names exist (kubeconfig files, webhook.caFile).
 */
export function checkFleet(text: string, opts: LoadOptions & { checkFiles?: boolean }): FleetCheck {
  const error = (path: string, message: string): Problem => ({ path, message, severity: 'error' });
  let doc: unknown;
  try {
    doc = parseYaml(text, opts.file);
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems.map((p) => error(p.path, p.message)) };
    throw err;
  }
  if (doc === undefined || doc === null) {
    return { problems: [error('', 'the file is empty (expected a mapping with registries and clusters)')] };
  }
  const baseDir = path.dirname(path.resolve(opts.path ?? opts.file));
  const inline = inlineAccessKeys(doc);
  const parsed = fleetSchema.safeParse(doc, { reportInput: true });
  // The schema would call the add-on's inline keys "unknown"; say what to do instead.
  const structural = parsed.success
    ? []
    : problemsFromIssues(parsed.error.issues, [], fleetSchema).filter((p) => !inline.some((i) => i.path === p.path));
  const problems: Problem[] = [
    ...[...inline, ...structural, ...crossCheck(doc), ...networkReferences(doc)].map((p) => error(p.path, p.message)),
    ...(opts.checkFiles ? missingFiles(doc, baseDir).map((p) => error(p.path, p.message)) : []),
    ...thresholdWarnings(doc),
    ...configmapWarnings(doc),
  ];
  if (!parsed.success || problems.some((p) => p.severity === 'error')) return { problems };
  try {
    const fleet = resolveFleet(parsed.data, { file: opts.file, baseDir, env: opts.env ?? {} });
    const warnings = problems.map(({ path, message }) => ({ path, message }));
    return { problems, fleet: warnings.length ? { ...fleet, warnings } : fleet };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { problems: [...problems, ...err.problems.map((p) => error(p.path, p.message))] };
  }
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

type Raw = Record<string, unknown>;
const isMap = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Rules the schema cannot express: unique names, references that resolve, keys that go together. Runs on
 * the document as written, whatever else is wrong with it, skipping values of the wrong type.
 */
function crossCheck(doc: unknown): ConfigProblem[] {
  if (!isMap(doc)) return [];
  const problems: ConfigProblem[] = [];
  const registryNames: string[] = [];
  listOf(doc.registries).forEach((r, i) => {
    if (!isMap(r)) return;
    const name = str(r.name);
    if (name !== undefined && registryNames.includes(name))
      problems.push({ path: `registries[${i}].name`, message: `duplicate registry name "${name}"` });
    if (Boolean(r.rrsaRoleARN) !== Boolean(r.rrsaOIDCProviderRoleARN)) {
      problems.push({ path: `registries[${i}]`, message: 'rrsaRoleARN and rrsaOIDCProviderRoleARN go together' });
    }
    if (r.rrsaRoleARN && r.accessKey)
      problems.push({ path: `registries[${i}]`, message: 'choose one of rrsaRoleARN and accessKey' });
    if ((r.externalId || r.expireDuration) && !r.assumeRoleARN) {
      problems.push({ path: `registries[${i}]`, message: 'externalId and expireDuration need assumeRoleARN' });
    }
    if (name !== undefined) registryNames.push(name);
  });
  const defined = [...new Set(registryNames)];
  const reference = (path: string, value: unknown) => {
    const r = str(value);
    if (r === undefined || defined.includes(r)) return;
    const meant = closest(r, defined);
    problems.push({
      path,
      message: `unknown registry "${r}" (defined: ${defined.join(', ')})${meant ? `; did you mean "${meant}"?` : ''}`,
    });
  };
  problems.push(...discoveryProblems(doc, reference));
  const clusterNames = new Set<string>();
  listOf(doc.clusters).forEach((c, i) => {
    if (!isMap(c)) return;
    const name = str(c.name);
    if (name !== undefined && clusterNames.has(name))
      problems.push({ path: `clusters[${i}].name`, message: `duplicate cluster name "${name}"` });
    if (name !== undefined) clusterNames.add(name);
    listOf(c.registries).forEach((r, j) => reference(`clusters[${i}].registries[${j}]`, r));
    const configmap = isMap(c.configmap) ? c.configmap : undefined;
    listOf(configmap?.registries).forEach((r, j) => reference(`clusters[${i}].configmap.registries[${j}]`, r));
    if (configmap && c.settings !== 'configmap')
      problems.push({ path: `clusters[${i}].configmap`, message: 'applies only with settings: configmap' });
  });
  return problems;
}

/** Files fleet.yaml names that must exist where acr-fleet runs from it (relative to the file). */
function missingFiles(doc: unknown, baseDir: string): ConfigProblem[] {
  if (!isMap(doc)) return [];
  const wanted: [string, string | undefined][] = listOf(doc.clusters).map((c, i) => [
    `clusters[${i}].kubeconfig.file`,
    isMap(c) && isMap(c.kubeconfig) ? str(c.kubeconfig.file) : undefined,
  ]);
  if (isMap(doc.webhook)) wanted.push(['webhook.caFile', str(doc.webhook.caFile)]);
  return wanted.flatMap(([key, file]) =>
    file && !existsSync(path.resolve(baseDir, file)) ? [{ path: key, message: `file not found: ${file}` }] : [],
  );
}

/**
 * A Secret is rewritten when its token expires within `expiringThreshold`: a threshold at or above a token's
 * whole lifetime rewrites every Secret on every run. A token lives 1 h, or, fetched with an STS session, as long
 * as the session (`expireDuration`).
 */
function thresholdWarnings(doc: unknown): Problem[] {
  if (!isMap(doc)) return [];
  const lifetimes = new Map<string, number>();
  for (const r of listOf(doc.registries)) {
    if (!isMap(r) || typeof r.name !== 'string') continue;
    const seconds = r.assumeRoleARN && typeof r.expireDuration === 'number' ? r.expireDuration : 3600;
    lifetimes.set(r.name, seconds * 1000);
  }
  const defaults = isMap(doc.defaults) ? doc.defaults : {};
  const seen = new Set<string>();
  const out: Problem[] = [];
  listOf(doc.clusters).forEach((c, i) => {
    if (!isMap(c)) return;
    const own = str(c.expiringThreshold);
    const text = own ?? str(defaults.expiringThreshold);
    const ms = text === undefined ? undefined : parseDuration(text);
    if (ms === undefined) return;
    const names = Array.isArray(c.registries)
      ? c.registries.filter((n) => typeof n === 'string')
      : [...lifetimes.keys()];
    const shortest = names
      .map((n) => [n, lifetimes.get(n)] as const)
      .filter((e): e is readonly [string, number] => e[1] !== undefined)
      .sort((a, b) => a[1] - b[1])[0];
    if (!shortest || ms < shortest[1]) return;
    const path = own !== undefined ? `clusters[${i}].expiringThreshold` : 'defaults.expiringThreshold';
    if (seen.has(path)) return;
    seen.add(path);
    out.push({
      path,
      severity: 'warning',
      message: `${text} is not below the shortest token lifetime (${formatMs(shortest[1])}, registry ${shortest[0]}): every run would rewrite every Secret`,
    });
  });
  return out;
}

/** A `settings: configmap` cluster that fleet.yaml allows no registry gets none from its ConfigMap. */
function configmapWarnings(doc: unknown): Problem[] {
  if (!isMap(doc)) return [];
  return listOf(doc.clusters).flatMap((c, i) =>
    isMap(c) && c.settings === 'configmap' && !(isMap(c.configmap) && listOf(c.configmap.registries).length)
      ? [
          {
            path: `clusters[${i}].configmap.registries`,
            severity: 'warning' as const,
            message:
              'none allowed: every registry its ConfigMap names will be refused (list the registries it may pick)',
          },
        ]
      : [],
  );
}

function formatMs(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m % 60 === 0 ? `${m / 60}h` : `${m}m`;
}
