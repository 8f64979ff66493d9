/**
 * Every way a registry's token can be fetched, end to end through the CLI and the FC handler:
 * the function's own identity, AssumeRole into another account (with ExternalId and session length),
 * an AccessKey pair kept in KMS, and RRSA (AssumeRoleWithOIDC) chained into AssumeRole.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { ACCOUNT, sandbox, type Sandbox } from './support/sandbox.js';
import { cli } from './support/cli.js';
import { PARTNER_ACCOUNT, PARTNER_INSTANCE } from './support/fleet.js';
import { readReport } from './support/parse.js';
import { loginDomains, SECRET } from './support/assert.js';

const PARTNER_DOMAINS = [
  'partner-registry-vpc.cn-beijing.cr.aliyuncs.com',
  'partner-registry.cn-beijing.cr.aliyuncs.com',
];
const PULL = ['cr:GetAuthorizationToken', 'cr:ListInstanceEndpoint'];

const refresh = async (s: Sandbox) => {
  const r = await cli(['refresh', '--config', 'fleet.yaml', '--json'], { cwd: s.dir, env: s.env });
  return { code: r.code, report: readReport(r.stdout), all: r.stdout + r.stderr };
};
const partnerTokens = (s: Sandbox) => s.cloud.tokens.filter((t) => t.registry === PARTNER_INSTANCE);

test("assumeRoleARN fetches the token as the other account's role, and the Secret records the session's shorter life", async (t) => {
  const s = await sandbox(t, {
    partner: {
      assumeRoleARN: `acs:ram::${PARTNER_ACCOUNT}:role/acr-pull`,
      externalId: 'fleet-42',
      expireDuration: 900,
    },
  });
  s.cloud.addRole({
    accountId: PARTNER_ACCOUNT,
    name: 'acr-pull',
    actions: PULL,
    trustedPrincipals: [`acs:ram::${ACCOUNT}:root`],
    externalId: 'fleet-42',
    maxSessionDuration: 3600,
  });
  const { code, report } = await refresh(s);
  t.is(code, 0, JSON.stringify(report.clusters));
  const dev = s.cluster('hz-dev-1').kube;
  t.deepEqual(loginDomains(s.cloud, dev, 'default'), PARTNER_DOMAINS);
  const [tok] = partnerTokens(s);
  t.regex(tok?.principal ?? '', new RegExp(`^acs:ram::${PARTNER_ACCOUNT}:assumed-role/acr-pull/`));
  t.true((tok?.expiresAt ?? Infinity) <= Date.now() + 900_000, 'the token lives no longer than the 900 s session');
  const secret = dev.get('secrets', 'default', SECRET) as { metadata: { annotations: Record<string, string> } };
  t.is(secret.metadata.annotations['acr-fleet.io/expires-at'], new Date(tok?.expiresAt ?? 0).toISOString());
  t.deepEqual(
    s.cloud.requests.filter((r) => r.action === 'AssumeRole').map((r) => r.region),
    ['cn-beijing'],
    "one session per run, from the registry region's STS endpoint",
  );
});

test('a role the caller may not assume fails only the clusters that need it, naming registry and code', async (t) => {
  const s = await sandbox(t, { partner: { assumeRoleARN: `acs:ram::${PARTNER_ACCOUNT}:role/locked` } });
  s.cloud.addRole({
    accountId: PARTNER_ACCOUNT,
    name: 'locked',
    actions: PULL,
    trustedPrincipals: [`acs:ram::${PARTNER_ACCOUNT}:root`],
  });
  const { code, report } = await refresh(s);
  t.is(code, 1);
  const byName = Object.fromEntries(report.clusters.map((c) => [c.name, c]));
  t.regex(
    byName['hz-dev-1']?.error ?? '',
    /^cluster hz-dev-1: registry partner: AssumeRole: NoPermission \(HTTP 403\): No permission perform sts:AssumeRole on this Role/,
  );
  t.is(byName['hz-prod-1']?.status, 'ok');
  t.is(byName['bj-prod-1']?.status, 'ok');
  t.is(s.cluster('hz-dev-1').kube.get('secrets', 'default', SECRET), undefined);
});

test('an AccessKey pair kept in KMS fetches the token as that user, and is never printed', async (t) => {
  const s = await sandbox(t, { partner: { accessKey: { kmsSecret: 'acr-fleet/partner-ak' } } });
  const partnerUser = s.cloud.addUser({ accountId: PARTNER_ACCOUNT, name: 'puller', actions: PULL });
  s.cloud.putKmsSecret({
    accountId: ACCOUNT,
    region: 'cn-hangzhou',
    name: 'acr-fleet/partner-ak',
    data: JSON.stringify({ AccessKeyId: partnerUser.accessKeyId, AccessKeySecret: partnerUser.accessKeySecret }),
  });
  const { code, all, report } = await refresh(s);
  t.is(code, 0, JSON.stringify(report.clusters));
  t.deepEqual(loginDomains(s.cloud, s.cluster('hz-dev-1').kube, 'default'), PARTNER_DOMAINS);
  t.is(partnerTokens(s)[0]?.principal, `acs:ram::${PARTNER_ACCOUNT}:user/puller`);
  t.false(all.includes(partnerUser.accessKeySecret));
});

test('a missing AccessKey secret names the registry, the KMS secret and the error code', async (t) => {
  const s = await sandbox(t, { partner: { accessKey: { kmsSecret: 'acr-fleet/nope' } } });
  const { code, report } = await refresh(s);
  t.is(code, 1);
  t.is(
    report.clusters.find((c) => c.name === 'hz-dev-1')?.error,
    'cluster hz-dev-1: registry partner: accessKey kmsSecret acr-fleet/nope: GetSecretValue: Forbidden.ResourceNotFound (HTTP 404): Resource not found',
  );
});

test('RRSA exchanges the OIDC token for a role session and chains it into the partner role', async (t) => {
  const issuer = 'https://oidc-ack-cn-hangzhou.oss-cn-hangzhou.aliyuncs.com/c1234';
  const s = await sandbox(t, { partner: {} });
  const provider = s.cloud.addOidcProvider({ accountId: ACCOUNT, name: 'ack-rrsa-c1234', issuer });
  const subject = 'system:serviceaccount:kube-system:acr-fleet';
  const rrsaRole = s.cloud.addRole({
    accountId: ACCOUNT,
    name: 'rrsa-fleet',
    actions: ['sts:AssumeRole'],
    trustedOidcProviders: [{ arn: provider, issuer, subject }],
  });
  s.cloud.addRole({ accountId: PARTNER_ACCOUNT, name: 'acr-pull', actions: PULL, trustedPrincipals: [rrsaRole] });
  const tokenFile = path.join(s.dir, 'oidc-token');
  await writeFile(tokenFile, s.cloud.oidcToken({ providerArn: provider, subject }));
  await s.editConfig((d) => {
    const r = (d.registries as Record<string, unknown>[]).find((x) => x.name === 'partner')!;
    Object.assign(r, {
      rrsaRoleARN: rrsaRole,
      rrsaOIDCProviderRoleARN: provider,
      oidcTokenFile: tokenFile,
      assumeRoleARN: `acs:ram::${PARTNER_ACCOUNT}:role/acr-pull`,
    });
  });
  const { code, report, all } = await refresh(s);
  t.is(code, 0, JSON.stringify(report.clusters));
  t.deepEqual(loginDomains(s.cloud, s.cluster('hz-dev-1').kube, 'default'), PARTNER_DOMAINS);
  t.regex(partnerTokens(s)[0]?.principal ?? '', new RegExp(`^acs:ram::${PARTNER_ACCOUNT}:assumed-role/acr-pull/`));
  t.deepEqual(
    s.cloud.requests.filter((r) => r.action.startsWith('AssumeRole')).map((r) => r.action),
    ['AssumeRoleWithOIDC', 'AssumeRole'],
  );
  t.false(all.includes(s.cloud.oidcToken({ providerArn: provider, subject }).split('.')[2] ?? '<none>'));
});

test('an expired OIDC token fails with the STS error code', async (t) => {
  const issuer = 'https://oidc.example/c9';
  const s = await sandbox(t, { partner: {} });
  const provider = s.cloud.addOidcProvider({ accountId: ACCOUNT, name: 'ack-rrsa-c9', issuer });
  const subject = 'system:serviceaccount:kube-system:acr-fleet';
  const rrsaRole = s.cloud.addRole({
    accountId: ACCOUNT,
    name: 'rrsa-fleet',
    actions: PULL,
    trustedOidcProviders: [{ arn: provider, issuer, subject }],
  });
  const tokenFile = path.join(s.dir, 'oidc-token');
  await writeFile(tokenFile, s.cloud.oidcToken({ providerArn: provider, subject, ttlSeconds: -60 }));
  await s.editConfig((d) => {
    const r = (d.registries as Record<string, unknown>[]).find((x) => x.name === 'partner')!;
    Object.assign(r, { rrsaRoleARN: rrsaRole, rrsaOIDCProviderRoleARN: provider, oidcTokenFile: tokenFile });
  });
  const { code, report } = await refresh(s);
  t.is(code, 1);
  t.regex(
    report.clusters.find((c) => c.name === 'hz-dev-1')?.error ?? '',
    /^cluster hz-dev-1: registry partner: AssumeRoleWithOIDC: AuthenticationFail\.OIDCToken\.Expired \(HTTP 400\)/,
  );
});

test('one STS session serves every registry with the same identity chain, and unused registries cost nothing', async (t) => {
  const role = `acs:ram::${PARTNER_ACCOUNT}:role/acr-pull`;
  const s = await sandbox(t, { partner: { assumeRoleARN: role } });
  s.cloud.addRole({
    accountId: PARTNER_ACCOUNT,
    name: 'acr-pull',
    actions: PULL,
    trustedPrincipals: [`acs:ram::${ACCOUNT}:root`],
  });
  s.cloud.addEnterpriseInstance({
    accountId: PARTNER_ACCOUNT,
    instanceId: 'cri-second',
    name: 'second',
    region: 'cn-beijing',
  });
  s.cloud.addEnterpriseInstance({
    accountId: PARTNER_ACCOUNT,
    instanceId: 'cri-unused',
    name: 'unused',
    region: 'cn-beijing',
  });
  await s.editConfig((d) => {
    const registries = d.registries as unknown[];
    registries.push({ name: 'second', instanceId: 'cri-second', regionId: 'cn-beijing', assumeRoleARN: role });
    registries.push({
      name: 'unused',
      instanceId: 'cri-unused',
      regionId: 'cn-beijing',
      assumeRoleARN: `acs:ram::${PARTNER_ACCOUNT}:role/other`,
    });
    (d.clusters as { name: string; registries?: string[] }[]).find((c) => c.name === 'hz-dev-1')!.registries = [
      'partner',
      'second',
    ];
  });
  const { code } = await refresh(s);
  t.is(code, 0);
  t.is(s.cloud.requests.filter((r) => r.action === 'AssumeRole').length, 1);
  t.deepEqual(
    s.cloud.tokens
      .map((tok) => tok.registry)
      .filter((r) => r !== 'cri-prod01' && !r.startsWith('personal'))
      .sort(),
    ['cri-partner', 'cri-second'],
  );
  t.is(loginDomains(s.cloud, s.cluster('hz-dev-1').kube, 'default').length, 4);
});
