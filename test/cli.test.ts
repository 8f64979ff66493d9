/**
 * The command line as people use it: usage errors, help, version, cluster globs, the dry-run plan,
 * progress and colour on a terminal and off it. Driven through `runCli` (and, once, a real
 * pseudo-terminal); fleet state is read back from the emulators.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import test from 'ava';
import { sandbox, type Sandbox } from './support/sandbox.js';
import { cli } from './support/cli.js';
import { readReport } from './support/parse.js';
import { SECRET, snapshot, writes } from './support/assert.js';

const refresh = (
  s: Sandbox,
  args: string[],
  tty?: { stdout?: boolean; stderr?: boolean },
  env: Record<string, string> = {},
) =>
  cli(['refresh', '--config', 'fleet.yaml', ...args], {
    cwd: s.dir,
    env: { ...s.env, ...env },
    ...(tty ? { tty } : {}),
  });

/** The cluster's kubeconfig now carries a token its API server does not know: every request is a 401. */
async function revoke(s: Sandbox, name: string): Promise<void> {
  const c = s.cluster(name);
  await writeFile(c.kubeconfigFile, c.kube.kubeconfig({ token: 'revoked-token-0000', contextName: name }));
}

/** Escape sequences spelled out, so expectations can be read (and written without control characters). */
const esc = (text: string) => text.replaceAll('\x1b', 'ESC');

/** Timings vary from run to run; everything else is asserted exactly. */
const stable = (text: string) => text.replace(/\d+ ms\)/g, 'N ms)');

const USAGE_ERRORS: [string[], string][] = [
  [['refresh', '--bogus'], 'acr-fleet: unknown option --bogus (see acr-fleet refresh --help)'],
  [['refresh', '--jsn'], 'acr-fleet: unknown option --jsn; did you mean --json? (see acr-fleet refresh --help)'],
  [['--bogus'], 'acr-fleet: unknown option --bogus (see acr-fleet --help)'],
  [['frobnicate'], 'acr-fleet: unknown command frobnicate (see acr-fleet --help)'],
  [['help', 'frobnicate'], 'acr-fleet: unknown command frobnicate (see acr-fleet --help)'],
  [['refesh'], 'acr-fleet: unknown command refesh; did you mean refresh? (see acr-fleet --help)'],
  [['refresh', '--config'], 'acr-fleet: option -c, --config <file> argument missing (see acr-fleet refresh --help)'],
  [
    ['refresh', 'now'],
    'acr-fleet: too many arguments for refresh. Expected 0 arguments but got 1 (see acr-fleet refresh --help)',
  ],
  [
    ['refresh', '--log-level', 'loud'],
    'acr-fleet: option --log-level <level> argument loud is invalid. Allowed choices are debug, info, warn, error (see acr-fleet refresh --help)',
  ],
  [['policy', '--dry-run'], 'acr-fleet: unknown option --dry-run (see acr-fleet policy --help)'],
  [
    ['deregister', '--kubeconfig', 'a.yaml'],
    'acr-fleet: required option --cluster <name> not specified (see acr-fleet deregister --help)',
  ],
];
for (const [args, line] of USAGE_ERRORS) {
  test(`"acr-fleet ${args.join(' ')}" is a usage error: one line on stderr, exit 2`, async (t) => {
    t.deepEqual(await cli(args, { cwd: tmpdir() }), { code: 2, stdout: '', stderr: `${line}\n` });
  });
}

test('--version prints the version of package.json', async (t) => {
  const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  t.deepEqual(await cli(['--version'], { cwd: tmpdir() }), { code: 0, stdout: `${version}\n`, stderr: '' });
});

test('refresh --help lists only the options of refresh', async (t) => {
  const { code, stdout, stderr } = await cli(['refresh', '--help'], { cwd: tmpdir() });
  t.is(code, 0);
  t.is(stderr, '');
  t.is(
    stdout,
    `Usage: acr-fleet refresh [options]

Refresh ACR pull Secrets in every registered cluster

Options:
  -c, --config <file>  fleet file (default: $ACR_FLEET_CONFIG or ./fleet.yaml)
  --log-level <level>  log detail on stderr (choices: "debug", "info", "warn",
                       "error", default: "info")
  --json               print one JSON object on stdout; logs become JSON lines
                       on stderr
  --dry-run            read everything, write nothing, print the plan: each
                       change and why
  --cluster <glob>     only clusters whose name matches (repeatable; globs such
                       as hz-*)
  -h, --help           show help
`,
  );
  t.deepEqual(
    await cli(['help', 'refresh'], { cwd: tmpdir() }),
    { code: 0, stdout, stderr: '' },
    '"help refresh" says the same',
  );
});

test('acr-fleet --help lists every command and the exit codes; with no command it goes to stderr with exit 2', async (t) => {
  const help = await cli(['--help'], { cwd: tmpdir() });
  t.is(help.code, 0);
  for (const command of ['validate', 'refresh', 'policy', 'register', 'deregister'])
    t.regex(help.stdout, new RegExp(`^  ${command} \\[options\\] `, 'm'));
  t.regex(help.stdout, /^Exit codes: 0 ok, 1 a cluster failed, 2 invalid config or usage\.$/m);
  t.false(help.stdout.includes('--dry-run'), 'command options are in the command help');
  t.deepEqual(await cli([], { cwd: tmpdir() }), { code: 2, stdout: '', stderr: help.stdout });
});

test('--cluster takes globs, and a glob that matches no cluster is a usage error naming it', async (t) => {
  const s = await sandbox(t);
  const hz = await refresh(s, ['--cluster', 'hz-*', '--json']);
  t.is(hz.code, 0);
  t.deepEqual(
    readReport(hz.stdout).clusters.map((c) => c.name),
    ['hz-prod-1', 'hz-dev-1'],
  );
  t.is(s.cluster('bj-prod-1').kube.requests.length, 0, 'an unselected cluster is not contacted');

  for (const c of s.clusters) c.kube.resetRequests();
  const none = await refresh(s, ['--cluster', 'bj-prod-1', '--cluster', 'sh-*']);
  t.deepEqual(none, { code: 2, stdout: '', stderr: 'acr-fleet: --cluster sh-*: matches no cluster in fleet.yaml\n' });
  for (const c of s.clusters) t.is(c.kube.requests.length, 0, c.name);
});

/**
 * After a first refresh: hz-prod-1 gets a new namespace (team-c), a terminating one (team-b), an
 * unowned Secret of acr-fleet's name (team-d) and a Secret 12m55s from expiry (team-a: "expires in 12m" for a minute after seeding, even on a loaded machine);
 * bj-prod-1 stops watching `search`; hz-dev-1 gains a registry.
 */
async function driftedFleet(s: Sandbox): Promise<void> {
  t0(await refresh(s, []));
  const hz = s.cluster('hz-prod-1').kube;
  const teamA = hz.get('secrets', 'team-a', SECRET) as { metadata: { annotations: Record<string, string> } };
  hz.seed('secrets', {
    ...teamA,
    metadata: {
      ...teamA.metadata,
      annotations: {
        ...teamA.metadata.annotations,
        'acr-fleet.io/expires-at': new Date(Date.now() + 12 * 60_000 + 55_000).toISOString(),
      },
    },
  });
  hz.terminateNamespace('team-b');
  hz.seed('namespaces', { metadata: { name: 'team-c' } });
  hz.seed('serviceaccounts', { metadata: { namespace: 'team-c', name: 'default' } });
  hz.seed('namespaces', { metadata: { name: 'team-d' } });
  hz.seed('secrets', {
    metadata: { namespace: 'team-d', name: SECRET },
    type: 'Opaque',
    data: { token: Buffer.from('not-ours-4f1c9a').toString('base64') },
  });
  await s.editConfig((doc) => {
    const clusters = doc.clusters as { name: string; watchNamespace?: unknown; registries?: string[] }[];
    clusters.find((c) => c.name === 'bj-prod-1')!.watchNamespace = ['payments'];
    clusters.find((c) => c.name === 'hz-dev-1')!.registries = ['hz-personal', 'acme-ee'];
  });
}
function t0(r: { code: number; stderr: string }): void {
  if (r.code !== 0) throw new Error(`first refresh failed: ${r.stderr}`);
}

test('a dry run prints the plan: per cluster and namespace, each change and why, and writes nothing', async (t) => {
  const s = await sandbox(t);
  await driftedFleet(s);
  const before = s.clusters.map((c) => snapshot(c.kube));
  for (const c of s.clusters) c.kube.resetRequests();
  const { code, stdout } = await refresh(s, ['--dry-run']);
  t.is(code, 0);
  t.is(
    stable(stdout),
    `Dry run: nothing was written. A refresh would:

hz-prod-1
  ~ update Secret team-a/acr-credential-fleet (token expires in 12m)
  = skip namespace team-b (terminating)
  + create Secret team-c/acr-credential-fleet (missing)
  ~ patch ServiceAccount team-c/default (+acr-credential-fleet)
  ! conflict Secret team-d/acr-credential-fleet (a Secret of that name is not managed by acr-fleet; left alone)
bj-prod-1
  - delete Secret search/acr-credential-fleet (namespace no longer watched)
  ~ patch ServiceAccount search/default (-acr-credential-fleet)
hz-dev-1
  ~ update Secret default/acr-credential-fleet (registries changed: +acme-ee)

Plan: 1 to create, 2 to update, 1 to delete, 2 ServiceAccount(s) to patch; 1 conflict(s), 1 namespace(s) skipped.
3 cluster(s): 3 ok, 0 failed (N ms)
`,
  );
  t.deepEqual(
    s.clusters.map((c) => snapshot(c.kube)),
    before,
  );
  for (const c of s.clusters) t.deepEqual(writes(c.kube), [], c.name);
});

test('--json carries the same plan as structured entries, without any data value', async (t) => {
  const s = await sandbox(t);
  await driftedFleet(s);
  const { code, stdout } = await refresh(s, ['--dry-run', '--json']);
  t.is(code, 0);
  const plans = Object.fromEntries(readReport(stdout).clusters.map((c) => [c.name, c.plan]));
  const expiresAt = (
    s.cluster('hz-prod-1').kube.get('secrets', 'team-a', SECRET) as {
      metadata: { annotations: Record<string, string> };
    }
  ).metadata.annotations['acr-fleet.io/expires-at'];
  t.deepEqual(plans['hz-prod-1'], [
    {
      action: 'update',
      kind: 'Secret',
      namespace: 'team-a',
      name: SECRET,
      reason: 'token expires in 12m',
      expiresAt,
    },
    { action: 'skip', kind: 'Namespace', namespace: 'team-b', name: 'team-b', reason: 'terminating' },
    { action: 'create', kind: 'Secret', namespace: 'team-c', name: SECRET, reason: 'missing' },
    {
      action: 'patch',
      kind: 'ServiceAccount',
      namespace: 'team-c',
      name: 'default',
      reason: `+${SECRET}`,
      imagePullSecrets: { added: [SECRET], removed: [] },
    },
    {
      action: 'conflict',
      kind: 'Secret',
      namespace: 'team-d',
      name: SECRET,
      reason: 'a Secret of that name is not managed by acr-fleet; left alone',
    },
  ]);
  t.deepEqual(plans['bj-prod-1'], [
    { action: 'delete', kind: 'Secret', namespace: 'search', name: SECRET, reason: 'namespace no longer watched' },
    {
      action: 'patch',
      kind: 'ServiceAccount',
      namespace: 'search',
      name: 'default',
      reason: `-${SECRET}`,
      imagePullSecrets: { added: [], removed: [SECRET] },
    },
  ]);
  t.deepEqual(plans['hz-dev-1'], [
    {
      action: 'update',
      kind: 'Secret',
      namespace: 'default',
      name: SECRET,
      reason: 'registries changed: +acme-ee',
      registries: { added: ['acme-ee'], removed: [] },
    },
  ]);
  for (const secret of [
    ...s.cloud.tokens.map((tok) => tok.password),
    'not-ours-4f1c9a',
    Buffer.from('not-ours-4f1c9a').toString('base64'),
  ])
    t.false(stdout.includes(secret));
  t.false(stdout.includes('dockerconfigjson'));
});

test('a dry run names a failed cluster and its error in the plan, and exits 1', async (t) => {
  const s = await sandbox(t);
  await revoke(s, 'bj-prod-1');
  const { code, stdout } = await refresh(s, ['--dry-run', '--cluster', 'bj-*']);
  t.is(code, 1);
  t.regex(
    stable(stdout),
    /^bj-prod-1: failed\n {2}error: cluster bj-prod-1: list (namespaces|secrets|serviceaccounts): HTTP 401 Unauthorized\n\nPlan: 0 to create/m,
  );
});

test('off a terminal, progress is one plain line per cluster; with --json stderr holds only JSON log lines', async (t) => {
  const s = await sandbox(t);
  const plain = await refresh(s, ['--cluster', 'hz-dev-1']);
  t.is(
    stable(plain.stderr).replace(/\d+ request\(s\)/, 'N request(s)'),
    '[1/1] hz-dev-1: ok (1 secret write(s), N request(s), N ms)\n',
  );
  t.false((plain.stdout + plain.stderr).includes('\x1b'), 'no colour in a pipe');
  const json = await refresh(s, ['--json', '--log-level', 'debug']);
  const lines = json.stderr.trimEnd().split('\n');
  t.true(lines.length >= 3);
  for (const l of lines) t.notThrows(() => JSON.parse(l), l);
});

test('on a terminal, progress is one live line rewritten in place, failures stay above it, and it is cleared at the end', async (t) => {
  const s = await sandbox(t);
  await revoke(s, 'bj-prod-1');
  await s.editConfig((doc) => {
    doc.concurrency = 1; // one cluster at a time: the order of lines is the fleet's
  });
  const { code, stderr } = await refresh(s, [], { stderr: true }, { NO_COLOR: '1' });
  t.is(code, 1);
  const CLEAR = '\r\x1b[2K';
  // Which of the three lists is refused first varies.
  const shown = stable(stderr).replace(/list (namespaces|secrets|serviceaccounts): HTTP 401 Unauthorized/g, '<401>');
  t.is(
    shown,
    [
      `${CLEAR}refreshing: 0/3 cluster(s) done`,
      `${CLEAR}refreshing: 1/3 cluster(s) done`,
      // Issue 17: the error is printed once, in the report on stdout; no runner error line, no error in progress.
      `${CLEAR}[2/3] bj-prod-1: failed (N ms)\n`,
      `${CLEAR}refreshing: 2/3 cluster(s) done, 1 failed`,
      `${CLEAR}refreshing: 3/3 cluster(s) done, 1 failed`,
      CLEAR,
    ].join(''),
  );
});

test('colour only on a terminal, and never with NO_COLOR', async (t) => {
  const s = await sandbox(t);
  const coloured = await refresh(s, ['--cluster', 'hz-dev-1'], { stdout: true, stderr: true });
  t.regex(esc(coloured.stdout), /^hz-dev-1 {2}ESC\[32mok {4}ESC\[39m/m);
  t.regex(coloured.stdout, /^1 cluster\(s\): 1 ok, 0 failed/m);
  const dry = await refresh(s, ['--cluster', 'hz-dev-1', '--dry-run'], { stdout: true });
  t.regex(esc(dry.stdout), /^ESC\[1mhz-dev-1ESC\[22m: no changes \(1 Secret\(s\) up to date\)$/m);
  const noColor = await refresh(s, ['--cluster', 'hz-dev-1'], { stdout: true, stderr: true }, { NO_COLOR: '1' });
  t.false(noColor.stdout.includes('\x1b'));
  t.false(noColor.stderr.replaceAll('\r\x1b[2K', '').includes('\x1b'), 'only the line-clearing control remains');
});

test('the installed command on a real pseudo-terminal shows the live line and colour', async (t) => {
  const s = await sandbox(t);
  const bin = new URL('../bin/acr-fleet.js', import.meta.url).pathname;
  // script(1) runs the command on a new pseudo-terminal: stdout and stderr are both a TTY there.
  const output = await new Promise<string>((resolve, reject) =>
    execFile(
      'script',
      ['-qec', `${process.execPath} ${bin} refresh --config fleet.yaml`, '/dev/null'],
      { cwd: s.dir, env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...s.env } },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    ),
  );
  t.true(output.includes('\r\x1b[2Krefreshing: 3/3 cluster(s) done'));
  t.regex(esc(output), /ESC\[32mok {4}ESC\[39m/);
  t.regex(output, /3 cluster\(s\): 3 ok, 0 failed/);
  t.false(output.includes(s.userCredentials.accessKeySecret));
});

test('the CLI module loads only commander, node built-ins and its formatting up front: everything heavy is imported by the command that runs', async (t) => {
  const staticImports = async (file: string) => {
    const text = await readFile(new URL(`../src/entry/${file}`, import.meta.url), 'utf8');
    // `import type` is erased at compile time; only value imports load modules.
    return [...text.matchAll(/^import (?!type )[^;]*? from '([^']+)';$/gms)].map((m) => m[1]);
  };
  t.deepEqual(await staticImports('cli.ts'), ['node:fs', 'node:path', 'node:url', 'commander', './output.js']);
  t.deepEqual(await staticImports('output.ts'), []);
});
