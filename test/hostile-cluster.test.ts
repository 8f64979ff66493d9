/**
 * Issue 16, "one cluster can hurt no other": each test plays a misbehaving API server (the kube emulator's
 * hostile mode, or a cluster full of big Secrets) in one cluster of the sandbox fleet and runs the real
 * CLI, in a child process when its peak memory is measured. It asserts what did NOT happen: no other
 * cluster missed its refresh, the run stayed far under the function's 512 MB, nothing raw or secret
 * reached an output.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { HOSTILE_PREFIX } from './emulators/kube/hostile.js';
import { handler } from '../src/entry/fc.js';
import { cli } from './support/cli.js';
import { SECRET } from './support/assert.js';
import { ACCOUNT, sandbox, type Sandbox } from './support/sandbox.js';
import { CLUSTER_NAMES } from './support/fleet.js';
import { logLines, readReport } from './support/parse.js';
import type { FleetReport } from '../src/fleet/report.js';

const MAIN = fileURLToPath(new URL('../src/entry/main.ts', import.meta.url));
const PEAK_RSS = fileURLToPath(new URL('./support/peak-rss.mjs', import.meta.url));
const TSX = import.meta.resolve('tsx');
/** The deployed function's memory. */
const FUNCTION_MEMORY_KIB = 512 * 1024;
const SA_LIST = /^\/api\/v1\/serviceaccounts$/;
const OTHERS = [CLUSTER_NAMES.bjProd, CLUSTER_NAMES.hzDev];

interface ChildRun {
  code: number;
  stdout: string;
  stderr: string;
  peakRssKib: number;
}

/** `acr-fleet ARGS` in a child process (so its peak RSS is the run's alone), against the sandbox. */
function child(s: Sandbox, args: string[], env: Record<string, string> = {}): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [`--import=${TSX}`, `--import=${PEAK_RSS}`, MAIN, ...args],
      {
        cwd: s.dir,
        env: { ...s.env, PATH: process.env.PATH ?? '', ...env },
        maxBuffer: 256 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && code === -1) return reject(err);
        const peak = /peak-rss-kib=(\d+)/.exec(stderr)?.[1];
        resolve({ code, stdout, stderr, peakRssKib: Number(peak ?? NaN) });
      },
    );
  });
}

/** The other clusters converged: refreshed, with acr-fleet's Secret in place. */
function othersConverged(t: ExecutionContext, s: Sandbox, report: FleetReport): void {
  for (const name of OTHERS) {
    t.is(report.clusters.find((c) => c.name === name)?.status, 'ok', `${name} is refreshed`);
    t.truthy(
      s
        .cluster(name)
        .kube.list('secrets')
        .find((x: { metadata: { name: string } }) => x.metadata.name === SECRET),
      `${name} holds the Secret`,
    );
  }
}

function failureOf(report: FleetReport, name: string): string | undefined {
  const c = report.clusters.find((x) => x.name === name);
  if (c?.status !== 'failed') return undefined;
  return c.error;
}

const logs: string[] = [];
test.after.always((t) => t.log(logs.join('\n')));

test('the flood: a cluster that streams an endless answer fails alone, cut at maxResponseBytes, while the others converge', async (t) => {
  const s = await sandbox(t);
  const hz = s.cluster(CLUSTER_NAMES.hzProd).kube;
  hz.hostile({ path: SA_LIST, endlessBody: true });
  const run = await child(s, ['refresh', '--config', 'fleet.yaml', '--json']);
  const report = readReport(run.stdout);
  t.is(run.code, 1, run.stderr);
  t.is(
    failureOf(report, CLUSTER_NAMES.hzProd),
    'cluster hz-prod-1: list serviceaccounts: answer larger than kubernetes.maxResponseBytes (8 MiB); raise it in fleet.yaml if the cluster is that large',
  );
  othersConverged(t, s, report);
  // The client hung up near the cap: far below the emulator's own 64 MiB safety stop.
  t.true(hz.endlessBytes < 24 * 1024 * 1024, `the server sent ${hz.endlessBytes} bytes before the client hung up`);
  t.true(run.peakRssKib < FUNCTION_MEMORY_KIB, `peak RSS ${run.peakRssKib} KiB`);
  logs.push(`flood: peak RSS ${Math.round(run.peakRssKib / 1024)} MiB, server sent ${hz.endlessBytes} bytes`);
});

test('endless pages: a cluster whose lists never end fails alone at maxListPages, while the others converge', async (t) => {
  const s = await sandbox(t);
  s.cluster(CLUSTER_NAMES.hzProd).kube.hostile({ path: SA_LIST, endlessPages: true });
  const run = await child(s, ['refresh', '--config', 'fleet.yaml', '--json']);
  const report = readReport(run.stdout);
  t.is(run.code, 1, run.stderr);
  t.is(
    failureOf(report, CLUSTER_NAMES.hzProd),
    'cluster hz-prod-1: list serviceaccounts: more than kubernetes.maxListPages (1000) pages; raise it in fleet.yaml if the cluster is that large',
  );
  othersConverged(t, s, report);
  t.true(run.peakRssKib < FUNCTION_MEMORY_KIB, `peak RSS ${run.peakRssKib} KiB`);
  logs.push(`endless pages: peak RSS ${Math.round(run.peakRssKib / 1024)} MiB`);
});

test("500 unowned 1 MB Secrets named like acr-fleet's cost their metadata only: the run succeeds and leaves them alone", async (t) => {
  const s = await sandbox(t);
  const hz = s.cluster(CLUSTER_NAMES.hzProd).kube;
  const blob = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < 500; i++) {
    hz.seed('namespaces', { metadata: { name: `bulk-${i}` } });
    // stringData: the emulator stores it base64-encoded in data, as the API server does.
    hz.seed('secrets', { metadata: { namespace: `bulk-${i}`, name: SECRET }, type: 'Opaque', stringData: { blob } });
  }
  const run = await child(s, ['refresh', '--config', 'fleet.yaml', '--json']);
  const report = readReport(run.stdout);
  t.is(run.code, 0, run.stderr);
  t.is(report.clusters.find((c) => c.name === CLUSTER_NAMES.hzProd)?.status, 'ok');
  othersConverged(t, s, report);
  // Listed as metadata: the Secret lists asked for PartialObjectMetadataList, and no unowned Secret was read or written.
  const secretRequests = hz.requests.filter((r) => r.path.startsWith('/api/v1/') && r.path.includes('/secrets'));
  t.false(
    secretRequests.some((r) => r.method !== 'GET' && /bulk-/.test(r.path)),
    'no write to an unowned Secret',
  );
  t.is(
    hz.get('secrets', 'bulk-7', SECRET)?.data?.blob,
    Buffer.from(blob).toString('base64'),
    'the unowned Secret is as it was',
  );
  t.true(run.peakRssKib < FUNCTION_MEMORY_KIB, `peak RSS ${run.peakRssKib} KiB`);
  logs.push(`500 x 1 MB unowned Secrets: peak RSS ${Math.round(run.peakRssKib / 1024)} MiB`);
});

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

test('a Status message with escape sequences reaches no output raw: CLI text, --json report and JSON log lines', async (t) => {
  const s = await sandbox(t);
  const bj = s.cluster(CLUSTER_NAMES.bjProd).kube;
  bj.hostile({ controlCharacters: true });
  bj.injectFault({ method: 'GET', path: SA_LIST, status: 403, times: 2 });
  const text = await cli(['refresh', '--config', 'fleet.yaml'], { cwd: s.dir, env: s.env });
  const json = await cli(['refresh', '--config', 'fleet.yaml', '--json'], { cwd: s.dir, env: s.env });
  for (const [name, out] of Object.entries({
    'text stdout': text.stdout,
    'text stderr': text.stderr,
    'json stdout': json.stdout,
    'json stderr': json.stderr,
  })) {
    t.false(RAW_CONTROL.test(out), `${name} carries no control character`);
    t.false(out.includes('\\u001b') || out.includes('\\u0007'), `${name} carries no escaped escape sequence`);
    t.false(out.includes(']52;'), `${name} carries no clipboard write`);
  }
  t.true(HOSTILE_PREFIX.includes('\u001b]52;'), 'the attack was the clipboard write');
  t.regex(
    readReport(json.stdout).clusters.find((c) => c.name === CLUSTER_NAMES.bjProd)?.error ?? '',
    /^cluster bj-prod-1: list serviceaccounts: HTTP 403 Forbidden: forbidden$|^cluster bj-prod-1: list serviceaccounts: HTTP 403 Forbidden/,
  );
  t.true(logLines(json.stderr).some((l) => l.level === 'error' && String(l.msg).includes('bj-prod-1')));
});

test('a bearer token echoed back by a server or proxy is redacted in every output', async (t) => {
  const s = await sandbox(t);
  const hz = s.cluster(CLUSTER_NAMES.hzProd);
  hz.kube.hostile({ path: SA_LIST, echoHeaders: true, status: 403 });
  const text = await cli(['refresh', '--config', 'fleet.yaml'], { cwd: s.dir, env: s.env });
  const json = await cli(['refresh', '--config', 'fleet.yaml', '--json'], { cwd: s.dir, env: s.env });
  const report = readReport(json.stdout);
  t.regex(failureOf(report, CLUSTER_NAMES.hzProd) ?? '', /authorization: Bearer \*\*\*/i, 'the echo is there, masked');
  for (const out of [text.stdout, text.stderr, json.stdout, json.stderr])
    t.false(out.includes(hz.token), 'the token is never printed');
  othersConverged(t, s, report);
});

test('DEBUG=* shows the SDK traffic but no AccessKey secret, token or password', async (t) => {
  const s = await sandbox(t);
  const run = await child(s, ['refresh', '--config', 'fleet.yaml', '--json'], { DEBUG: '*' });
  t.is(run.code, 0, run.stderr);
  t.regex(run.stderr, /httpx:header/, 'DEBUG output is there');
  const passwords = s.clusters.flatMap((c) =>
    c.kube
      .list('secrets')
      .filter((x: { metadata: { name: string } }) => x.metadata.name === SECRET)
      .map((x: { data: Record<string, string> }) =>
        Buffer.from(x.data['.dockerconfigjson'] ?? '', 'base64').toString(),
      ),
  );
  const secrets = [
    s.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET ?? '',
    ...s.clusters.map((c) => c.token),
    ...passwords.flatMap((p) =>
      Object.values((JSON.parse(p) as { auths: Record<string, { password: string }> }).auths).map((a) => a.password),
    ),
  ];
  t.true(secrets.length > 3 && secrets.every((x) => x.length >= 8));
  for (const secret of secrets) t.false(run.stderr.includes(secret), 'no credential in the DEBUG output');
  t.truthy(ACCOUNT);
});

test('a slow but healthy server: its cluster fails, named, at kubernetes.clusterTimeout and the run goes on', async (t) => {
  const s = await sandbox(t, {
    editConfig: (d) => {
      d.kubernetes = { requestTimeout: '60s', clusterTimeout: '5s' };
    },
  });
  s.cluster(CLUSTER_NAMES.hzProd).kube.injectFault({ method: 'GET', path: SA_LIST, delayMs: 20_000 });
  const run = await cli(['refresh', '--config', 'fleet.yaml', '--json'], { cwd: s.dir, env: s.env });
  const report = readReport(run.stdout);
  t.is(run.code, 1, run.stderr);
  t.is(
    failureOf(report, CLUSTER_NAMES.hzProd),
    'cluster hz-prod-1: did not finish within kubernetes.clusterTimeout (5s); raise it in fleet.yaml if the cluster is that slow',
  );
  othersConverged(t, s, report);
});

// The handler reads ACR_FLEET_CONFIG from the process environment: serial.
test.serial(
  "the FC handler stops a cluster still running when the invocation's time runs out, and reports the rest",
  async (t) => {
    const s = await sandbox(t, {
      kubeconfigs: 'kms',
      functionConfig: true,
      editConfig: (d) => {
        d.kubernetes = { requestTimeout: '60s' };
      },
    });
    s.cluster(CLUSTER_NAMES.hzProd).kube.injectFault({ method: 'GET', path: SA_LIST, delayMs: 40_000 });
    const lines: string[] = [];
    // FC 3.0 gives the function's timeout (seconds) in context.function.timeout: 20 s, so 18 s for the clusters.
    const report = (await handler(
      Buffer.from('{}'),
      { requestId: 'req-deadline', credentials: s.cloud.roleSession(s.functionRole), function: { timeout: 20 } },
      (l) => lines.push(l),
    )) as FleetReport;
    t.is(
      failureOf(report, CLUSTER_NAMES.hzProd),
      "cluster hz-prod-1: stopped: the invocation's time ran out before this cluster finished; raise the function's timeout or lower shardSize",
    );
    othersConverged(t, s, report);
    t.true(logLines(lines).some((l) => l.event === 'summary'));
  },
);
