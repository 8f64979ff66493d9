/**
 * The shape of the code: arrows point one way. config ← cloud, tokens, kube, reconcile (and policy) ← use
 * cases (fleet, webhook, register) ← entry; errors.ts, retry.ts and log/ are importable by all. The imports of
 * every file under src/ are read with TypeScript's own parser (static, `export … from`, type-only and dynamic
 * `import()`), and the test fails on any cycle and on any arrow that points up or sideways, naming the file and
 * the import.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Importable by every layer; they import only each other. */
const BASE = 'base';
const USE_CASES = ['fleet', 'webhook', 'register'];
/** Below the use cases: they talk to config, clouds and clusters, and never to a use case or an entry point. */
const CORE = ['config', 'cloud', 'tokens', 'kube', 'reconcile', 'policy'];

/** A file (relative to src/, `/`-separated) and what it imports, resolved to files under src/ where relative. */
export interface ImportEdge {
  from: string;
  specifier: string;
  /** The imported file relative to src/; undefined for a package or a Node built-in. */
  to: string | undefined;
}

function layerOf(file: string): string {
  const [top, ...rest] = file.split('/');
  if (rest.length === 0 || top === 'log') return BASE;
  return top ?? BASE;
}

/** Why an arrow from `from` to `to` is not allowed; undefined when it is. */
function ruleBroken(from: string, to: string): string | undefined {
  const a = layerOf(from);
  const b = layerOf(to);
  if (a === b) return undefined;
  if (a === BASE) return 'a base module (errors.ts, retry.ts, log/) imports a layer';
  if (b === BASE) return undefined;
  if (b === 'entry') return 'only entry imports entry';
  if (a === 'entry') return undefined;
  if (USE_CASES.includes(a) && USE_CASES.includes(b)) return 'a use case imports another use case';
  if (CORE.includes(a) && USE_CASES.includes(b)) return 'a lower layer imports a use case';
  if (a === 'config' && CORE.includes(b)) return 'config imports a layer above it';
  if (!CORE.includes(a) && !USE_CASES.includes(a)) return `folder ${a}/ has no place in the layers`;
  return undefined;
}

/** Every import of one file: `import`, `export … from`, `import type`, `import()` with a string literal. */
export function importsOf(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      found.push(node.moduleSpecifier.text);
    else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    )
      found.push(node.arguments[0].text);
    else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    )
      found.push(node.argument.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `../fleet/run.js` from `webhook/service.ts` → `fleet/run.ts`; undefined for packages. */
function resolve(from: string, specifier: string, files: ReadonlySet<string>): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const base = joined.replace(/\.(m?js|ts)$/, '');
  return [`${base}.ts`, `${base}/index.ts`].find((f) => files.has(f)) ?? `${base}.ts`;
}

/** The arrows that break the layer rules, one line each: `FILE imports SPECIFIER (LAYER): RULE`. */
export function layerViolations(edges: readonly ImportEdge[]): string[] {
  return edges.flatMap((e) => {
    if (e.to === undefined) return [];
    const broken = ruleBroken(e.from, e.to);
    return broken ? [`${e.from} imports ${e.specifier} (${layerOf(e.to)}): ${broken}`] : [];
  });
}

/** Every import cycle among files, each as `a.ts → b.ts → a.ts` (each cycle once, from its smallest file). */
export function importCycles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) if (e.to !== undefined) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const cycles = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === 'open') {
        const loop = stack.slice(stack.indexOf(to));
        const start = loop.indexOf([...loop].sort()[0] ?? to);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        cycles.add([...rotated, rotated[0]].join(' → '));
      } else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...next.keys()].sort()) if (!state.has(file)) visit(file);
  return [...cycles].sort();
}

async function sourceEdges(): Promise<ImportEdge[]> {
  const files = (await readdir(SRC, { recursive: true }))
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort();
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  for (const from of files) {
    const text = await readFile(path.join(SRC, from), 'utf8');
    for (const specifier of importsOf(from, text)) edges.push({ from, specifier, to: resolve(from, specifier, known) });
  }
  return edges;
}

test('no file under src/ is part of an import cycle', async (t) => {
  const edges = await sourceEdges();
  t.true(edges.length > 100, 'the imports were read');
  t.deepEqual(importCycles(edges), []);
});

test('every import under src/ points down the layers: config ← cloud, tokens, kube, reconcile ← fleet, webhook, register ← entry', async (t) => {
  const violations = layerViolations(await sourceEdges());
  t.deepEqual(violations, [], 'imports that break the layer rules');
});

test('the import reader sees static, re-exported, type-only and dynamic imports', (t) => {
  const text = [
    "import a from './a.js';",
    "import type { B } from '../b/b.js';",
    "export { c } from './c.js';",
    "export * from './d.js';",
    "const e = await import('../e.js');",
    "type F = import('./f.js').F;",
    "import 'node:fs';",
    'const g = \'import("./not-an-import.js")\';',
  ].join('\n');
  t.deepEqual(importsOf('x/y.ts', text), ['./a.js', '../b/b.js', './c.js', './d.js', '../e.js', './f.js', 'node:fs']);
});

const arrowCases: [from: string, specifier: string, to: string, message: string | undefined][] = [
  ['fleet/run.ts', '../reconcile/plan.js', 'reconcile/plan.ts', undefined],
  ['entry/fc.ts', '../fleet/run.js', 'fleet/run.ts', undefined],
  ['kube/client.ts', '../errors.js', 'errors.ts', undefined],
  ['webhook/service.ts', '../log/logger.js', 'log/logger.ts', undefined],
  [
    'webhook/service.ts',
    '../entry/runtime.js',
    'entry/runtime.ts',
    'webhook/service.ts imports ../entry/runtime.js (entry): only entry imports entry',
  ],
  [
    'webhook/service.ts',
    '../fleet/run.js',
    'fleet/run.ts',
    'webhook/service.ts imports ../fleet/run.js (fleet): a use case imports another use case',
  ],
  [
    'reconcile/plan.ts',
    '../fleet/report.js',
    'fleet/report.ts',
    'reconcile/plan.ts imports ../fleet/report.js (fleet): a lower layer imports a use case',
  ],
  [
    'config/load.ts',
    '../kube/cluster-client.js',
    'kube/cluster-client.ts',
    'config/load.ts imports ../kube/cluster-client.js (kube): config imports a layer above it',
  ],
  [
    'errors.ts',
    './config/issues.js',
    'config/issues.ts',
    'errors.ts imports ./config/issues.js (config): a base module (errors.ts, retry.ts, log/) imports a layer',
  ],
];

for (const [from, specifier, to, message] of arrowCases) {
  test(`the layer check ${message ? 'refuses' : 'allows'} ${from} → ${to}`, (t) => {
    t.deepEqual(layerViolations([{ from, specifier, to }]), message ? [message] : []);
  });
}

test('the cycle check names each cycle once, from its first file', (t) => {
  const edge = (from: string, to: string): ImportEdge => ({ from, specifier: to, to });
  t.deepEqual(
    importCycles([
      edge('entry/webhook.ts', 'entry/fc.ts'),
      edge('entry/fc.ts', 'entry/webhook.ts'),
      edge('entry/index.ts', 'entry/fc.ts'),
      edge('fleet/run.ts', 'reconcile/plan.ts'),
    ]),
    ['entry/fc.ts → entry/webhook.ts → entry/fc.ts'],
  );
  t.deepEqual(importCycles([edge('a/x.ts', 'b/y.ts'), edge('b/y.ts', 'c/z.ts')]), []);
});
