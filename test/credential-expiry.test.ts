/**
 * Kubeconfig credential expiry: a ServiceAccount token's `exp`, a client certificate's `notAfter`, the
 * earlier of both; nothing (and no exception) for credentials that do not say.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import test from 'ava';
import yaml from 'js-yaml';
import { credentialExpiry } from '../src/kube/credential.js';
import { readKubeconfig } from '../src/kube/kubeconfig.js';
import { cli } from './support/cli.js';
import { sandbox, type Sandbox } from './support/sandbox.js';
import { FLEET_SA_GROUPS, FLEET_SA_USER } from './support/fleet.js';
import { logLines, readReport } from './support/parse.js';

/** The emulators' certificate: notAfter Oct 30 09:40:11 2126 GMT (openssl x509 -enddate). */
const CERT_PEM = readFileSync(new URL('./emulators/tls/cert.pem', import.meta.url));
const CERT_NOT_AFTER = Date.parse('2126-10-30T09:40:11Z');
const CERT_DATA = CERT_PEM.toString('base64');

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** A JWT-shaped token with these claims (signature not checked by anyone here). */
const jwt = (claims: unknown) => `${b64url({ alg: 'RS256', kid: 'k' })}.${b64url(claims)}.c2lnbmF0dXJl`;

const kubeconfigText = (user: Record<string, string>) =>
  yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });
const kubeconfig = (user: Record<string, string>) => readKubeconfig(kubeconfigText(user), 'kubeconfig test.yaml');

const EXP = 1_900_000_000;

const cases: [string, Record<string, string>, number | undefined][] = [
  [
    'a ServiceAccount token tells its exp',
    { token: jwt({ sub: 'system:serviceaccount:kube-system:acr-fleet', exp: EXP }) },
    EXP * 1000,
  ],
  [
    'a client certificate tells its notAfter',
    { 'client-certificate-data': CERT_DATA, 'client-key-data': 'a2V5' },
    CERT_NOT_AFTER,
  ],
  [
    'a token and a certificate: the earlier wins',
    { token: jwt({ exp: EXP }), 'client-certificate-data': CERT_DATA, 'client-key-data': 'a2V5' },
    EXP * 1000,
  ],
  [
    'a certificate expiring before the token wins too',
    { token: jwt({ exp: 9_000_000_000 }), 'client-certificate-data': CERT_DATA, 'client-key-data': 'a2V5' },
    CERT_NOT_AFTER,
  ],
  ['an opaque static token says nothing', { token: 'sandbox-token-abcdef' }, undefined],
  ['a JWT without exp says nothing', { token: jwt({ sub: 'x' }) }, undefined],
  ['an exp that is not a number says nothing', { token: jwt({ exp: '1900000000' }) }, undefined],
  ['a negative exp says nothing', { token: jwt({ exp: -5 }) }, undefined],
  ['claims that are not JSON say nothing', { token: `${b64url('h')}.${b64url('{not json')}.sig` }, undefined],
  ['claims that are JSON null say nothing', { token: `${b64url('h')}.${b64url('null')}.sig` }, undefined],
  ['a token of two parts says nothing', { token: 'a.b' }, undefined],
  [
    'certificate data that is not a certificate says nothing',
    {
      'client-certificate-data': b64url('-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----'),
      'client-key-data': 'a2V5',
    },
    undefined,
  ],
  ['a user without credentials says nothing', {}, undefined],
];

for (const [name, user, expected] of cases) {
  test(`credential expiry: ${name}`, (t) => {
    t.is(credentialExpiry(kubeconfig(user)), expected);
  });
}

test('credential expiry reads a client certificate file', (t) => {
  const file = new URL('./emulators/tls/cert.pem', import.meta.url).pathname;
  t.is(credentialExpiry(kubeconfig({ 'client-certificate': file, 'client-key': file })), CERT_NOT_AFTER);
});

test('a missing certificate file is an error naming the kubeconfig and the field, not its content', (t) => {
  t.throws(
    () => kubeconfig({ 'client-certificate': '/nonexistent/acr-fleet/cert.pem', 'client-key': '/nonexistent/key.pem' }),
    {
      message: 'kubeconfig test.yaml: user.client-certificate: file not found',
    },
  );
});

test('a kubeconfig whose user is a credential plugin tells no expiry and is marked as a plugin', (t) => {
  const k = readKubeconfig(
    kubeconfigText({}).replace(
      'user: {}',
      'user:\n      exec: { command: aws, apiVersion: client.authentication.k8s.io/v1 }',
    ),
    'kubeconfig test.yaml',
  );
  t.is(k.plugin, 'exec');
  t.is(credentialExpiry(k), undefined);
});
const DAY = 24 * 3600 * 1000;

/** Gives a sandbox cluster a JWT-shaped static token of acr-fleet's identity that says it expires at `exp` (ms). */
async function tokenExpiringAt(s: Sandbox, cluster: string, exp: number): Promise<string> {
  const c = s.cluster(cluster);
  const token = jwt({ sub: FLEET_SA_USER, exp: Math.floor(exp / 1000) });
  // A static token (--token-auth-file) is accepted whatever its claims say: the warning is acr-fleet's reading of exp.
  c.kube.addToken(token, { name: FLEET_SA_USER, groups: FLEET_SA_GROUPS });
  await writeFile(c.kubeconfigFile, c.kube.kubeconfig({ token, contextName: cluster }));
  return token;
}

test('a kubeconfig credential near or past its expiry is reported, warned about or named as an error with the fix, and never printed', async (t) => {
  const s = await sandbox(t);
  const soon = Math.floor((Date.now() + 10 * DAY + 3600_000) / 1000) * 1000;
  const past = Math.floor((Date.now() - 2 * DAY) / 1000) * 1000;
  const far = Math.floor((Date.now() + 400 * DAY) / 1000) * 1000;
  const tokens = [
    await tokenExpiringAt(s, 'hz-dev-1', soon),
    await tokenExpiringAt(s, 'bj-prod-1', past),
    await tokenExpiringAt(s, 'hz-prod-1', far),
  ];

  const { code, stdout, stderr } = await cli(['refresh', '--config', 'fleet.yaml', '--json'], {
    cwd: s.dir,
    env: s.env,
  });
  t.is(code, 0, 'an expiring credential is a warning, not a failure, while the server still accepts it');
  const report = readReport(stdout);
  t.deepEqual(Object.fromEntries(report.clusters.map((c) => [c.name, c.credentialExpiresAt])), {
    'hz-prod-1': new Date(far).toISOString(),
    'bj-prod-1': new Date(past).toISOString(),
    'hz-dev-1': new Date(soon).toISOString(),
  });
  const lines = logLines(stderr).filter((l) => l.event === 'credential-expiry');
  t.deepEqual(
    lines
      .map(({ level, msg, cluster, expiresAt, daysLeft }) => ({ level, msg, cluster, expiresAt, daysLeft }))
      .sort((a, b) => a.level.localeCompare(b.level)),
    [
      {
        level: 'error',
        msg: `cluster bj-prod-1: the kubeconfig credential expired at ${new Date(past).toISOString()}; run \`acr-fleet register\` for this cluster again`,
        cluster: 'bj-prod-1',
        expiresAt: new Date(past).toISOString(),
        daysLeft: 0,
      },
      {
        level: 'warn',
        msg: `cluster hz-dev-1: the kubeconfig credential expires at ${new Date(soon).toISOString()} (10 days left); run \`acr-fleet register\` for this cluster again before then`,
        cluster: 'hz-dev-1',
        expiresAt: new Date(soon).toISOString(),
        daysLeft: 10,
      },
    ],
  );
  for (const token of tokens) {
    t.false(stdout.includes(token) || stderr.includes(token), 'no bearer token is printed');
    t.false(
      stdout.includes(token.split('.')[1] ?? '-') || stderr.includes(token.split('.')[1] ?? '-'),
      'not even its claims',
    );
  }
});
