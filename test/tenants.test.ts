/**
 * Issue 15, part A: cluster owners are tenants. Each test plays a hostile tenant (or a hostile host) through
 * the emulators and asserts what was refused, that nothing reached a host fleet.yaml did not name, that no
 * other tenant's token reached any cluster, and that the rest of the fleet converged.
 */
import { createRequire } from 'node:module';
import test from 'ava';
import { StsApi } from '../src/cloud/sts.js';
import { SdkOpenApiCaller } from '../src/cloud/openapi.js';
import { credentialFromFc } from '../src/cloud/credentials.js';
import { resolveEndpoint } from '../src/cloud/endpoints.js';
import { capCloudResponses } from '../src/cloud/response-cap.js';
import { registryDomains } from '../src/tokens/domains.js';
import { cli } from './support/cli.js';
import { auths, loginDomains } from './support/assert.js';
import { ACCOUNT, CLUSTER_NAMES, PARTNER_ACCOUNT, PARTNER_INSTANCE, PE_DOMAINS } from './support/fleet.js';
import { logLines, readReport } from './support/parse.js';
import { sandbox, type Sandbox } from './support/sandbox.js';

const TENANT = CLUSTER_NAMES.hzDev;
const PARTNER_ROLE = `acs:ram::${PARTNER_ACCOUNT}:role/acr-pull`;

/** The tenant's cluster reads its registries from its ConfigMap; fleet.yaml allows it `allowed` only. */
async function tenantConfigMap(s: Sandbox, data: Record<string, string>, allowed: string[]): Promise<void> {
  s.cluster(TENANT).kube.seed('configmaps', {
    metadata: { namespace: 'kube-system', name: 'acr-configuration' },
    data,
  });
  await s.editConfig((d) => {
    const c = (d.clusters as Record<string, unknown>[]).find((x) => x.name === TENANT)!;
    delete c.registries;
    c.settings = 'configmap';
    c.configmap = { registries: allowed };
  });
  await s.grantRbac();
}

const refresh = async (s: Sandbox) => {
  const r = await cli(['refresh', '--config', 'fleet.yaml', '--json'], { cwd: s.dir, env: s.env });
  return { ...r, report: readReport(r.stdout) };
};

/** Every request the cloud emulator saw went to a listener fleet.yaml names. */
function onlyFleetHosts(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, s: Sandbox): void {
  const named = new Set(
    Object.values(s.cloud.endpointsConfig()).flatMap((byRegion) =>
      Object.values(byRegion).map((u) => new URL(u).origin),
    ),
  );
  t.deepEqual(
    s.cloud.requests.filter((r) => !named.has(r.listener)).map((r) => `${r.action} → ${r.host}`),
    [],
    'no request left for a host fleet.yaml does not name',
  );
}

/** Passwords of every dockerconfigjson Secret in a cluster. */
function passwordsIn(s: Sandbox, cluster: string): string[] {
  const kube = s.cluster(cluster).kube;
  return (kube.list('secrets') as { metadata: { namespace: string; name: string }; type?: string }[])
    .filter((x) => x.type === 'kubernetes.io/dockerconfigjson')
    .flatMap((x) => Object.values(auths(kube, x.metadata.namespace, x.metadata.name)).map((a) => a.password));
}

test("a tenant's ConfigMap naming a foreign instance, a foreign role, a foreign region and a domain gets none of them; the fleet converges", async (t) => {
  const s = await sandbox(t, { partner: { assumeRoleARN: PARTNER_ROLE } });
  s.cloud.addRole({
    accountId: PARTNER_ACCOUNT,
    name: 'acr-pull',
    actions: ['cr:GetAuthorizationToken', 'cr:ListInstanceEndpoint'],
    trustedPrincipals: [`acs:ram::${ACCOUNT}:root`],
  });
  // The partner registry belongs to bj-prod-1 alone; the tenant is allowed the Personal Edition registry.
  await s.editConfig((d) => {
    const clusters = d.clusters as { name: string; registries?: string[] }[];
    clusters.find((c) => c.name === CLUSTER_NAMES.bjProd)!.registries = ['acme-ee', 'partner'];
  });
  await tenantConfigMap(
    s,
    {
      'acr-registry-info': [
        '- instanceId: ""',
        '- instanceId: cri-prod01',
        '  regionId: cn-beijing',
        `- instanceId: ${PARTNER_INSTANCE}`,
        '  regionId: cn-beijing',
        `  assumeRoleARN: "${PARTNER_ROLE}"`,
        '- instanceId: ""',
        '  regionId: cn-beijing',
        '- instanceId: ""',
        '  domains: "registry.cn-hangzhou.aliyuncs.com,evil.example.com"',
      ].join('\n'),
    },
    ['hz-personal'],
  );
  const { code, report, stdout, stderr } = await refresh(s);
  t.is(code, 0, stdout + stderr);
  t.deepEqual(report.clusters.find((c) => c.name === TENANT)?.refused, [
    `cluster ${TENANT}: ConfigMap acr-registry-info[1]: instance cri-prod01 is not allowed for this cluster`,
    `cluster ${TENANT}: ConfigMap acr-registry-info[2]: instance ${PARTNER_INSTANCE} is not allowed for this cluster`,
    `cluster ${TENANT}: ConfigMap acr-registry-info[3]: the Personal Edition registry in region cn-beijing is not allowed for this cluster`,
    `cluster ${TENANT}: ConfigMap acr-registry-info[4]: domain "evil.example.com" of the Personal Edition registry is not allowed for this cluster`,
  ]);
  t.true(
    report.clusters.every((c) => c.status === 'ok'),
    'every cluster converged',
  );
  // The tenant got its own registry's logins and nothing else.
  const tenant = s.cluster(TENANT).kube;
  t.deepEqual(Object.keys(auths(tenant, 'default')).sort(), PE_DOMAINS);
  t.deepEqual(loginDomains(s.cloud, tenant, 'default'), PE_DOMAINS);
  const foreign = s.cloud.tokens.filter((x) => x.registry !== 'personal:cn-hangzhou').map((x) => x.password);
  t.deepEqual(
    passwordsIn(s, TENANT).filter((p) => foreign.includes(p)),
    [],
    'no other tenant token in the tenant cluster',
  );
  t.is(
    s.cloud.tokens.filter((x) => x.registry === PARTNER_INSTANCE).length,
    1,
    "the partner token was fetched once, for bj-prod-1: none for the tenant's entry",
  );
  t.deepEqual(
    s.cloud.requests.filter((r) => r.action === 'AssumeRole').map((r) => r.region),
    ['cn-beijing'],
    'the partner role was assumed once, for the cluster fleet.yaml gave it to',
  );
  t.truthy(
    logLines(stderr).find((l) => l.event === 'configmap-refused'),
    'the refusals are logged for alerting',
  );
  onlyFleetHosts(t, s);
});

test('a ConfigMap regionId that injects a host (evil.example:443/?) is refused and never becomes a request', async (t) => {
  const s = await sandbox(t);
  await tenantConfigMap(
    s,
    { 'acr-registry-info': '- instanceId: ""\n- instanceId: ""\n  regionId: "evil.example:443/?"\n' },
    ['hz-personal'],
  );
  const { code, report } = await refresh(s);
  t.is(code, 0);
  t.deepEqual(report.clusters.find((c) => c.name === TENANT)?.refused, [
    `cluster ${TENANT}: ConfigMap acr-registry-info[1]: the Personal Edition registry in a region that is not a region id is not allowed for this cluster`,
  ]);
  t.true(report.clusters.every((c) => c.status === 'ok'));
  onlyFleetHosts(t, s);
});

test('a region that injects a host is refused at the cloud layer, before any request, whatever endpoint fleet.yaml wrote', async (t) => {
  const s = await sandbox(t);
  const hostile = await s.cloud.hostileEndpoint();
  const evil = 'evil.example:443/?';
  // The lower layer, as a region that escaped validation would reach it: default hosts, a {region} template, a map.
  t.throws(() => resolveEndpoint({}, 'sts', evil), {
    message: 'endpoints.sts: region "evil.example:443/?" is not a region id; no request sent',
  });
  t.throws(() => resolveEndpoint({ sts: 'https://sts.{region}.aliyuncs.com' }, 'sts', evil), {
    message: 'endpoints.sts: region "evil.example:443/?" is not a region id; no request sent',
  });
  const caller = new SdkOpenApiCaller({
    endpoints: { sts: { [evil]: hostile.url } },
    credential: credentialFromFc(s.userCredentials),
  });
  await t.throwsAsync(
    new StsApi(caller).assumeRole(evil, { roleArn: `acs:ram::${ACCOUNT}:role/x`, durationSeconds: 900 }),
    { message: 'AssumeRole: endpoints.sts: region "evil.example:443/?" is not a region id; no request sent' },
  );
  // A host outside the cloud's domain that fleet.yaml does not name is refused too, region or not.
  t.throws(
    () =>
      resolveEndpoint(
        { cr: { 'cn-hangzhou': 'https://cr.cn-hangzhou.aliyuncs.com.evil.example' } },
        'cr',
        'cn-beijing',
      ),
    {
      message: 'endpoints.cr: no URL for region cn-beijing (configured: cn-hangzhou)',
    },
  );
  t.is(resolveEndpoint({}, 'fc', 'cn-hangzhou', ACCOUNT).host, `${ACCOUNT}.cn-hangzhou.fc.aliyuncs.com`);
  t.throws(() => resolveEndpoint({}, 'fc', 'cn-hangzhou', 'evil.example:443/?'), {
    message: 'endpoints.fc: account "evil.example:443/?" is not an account id',
  });
  t.deepEqual(s.cloud.requestsTo(hostile.url), [], 'nothing reached the hostile host');
  t.deepEqual(s.cloud.requests, [], 'nothing reached any host');
});

test('a gzip bomb from a cloud endpoint fails only its registry’s clusters, is never inflated, and memory stays low', async (t) => {
  const s = await sandbox(t);
  const hostile = await s.cloud.hostileEndpoint();
  // The operator wrote this endpoint (e.g. a VPC endpoint later taken over): requests go there, answers are capped.
  await s.editConfig((d) => {
    const endpoints = d.endpoints as { cr: Record<string, string> };
    endpoints.cr['cn-beijing'] = hostile.url;
  });
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const { code, report } = await refresh(s).finally(() => clearInterval(sampler));
  peak = Math.max(peak, process.memoryUsage().rss);
  const growthMiB = (peak - before) / 2 ** 20;
  t.log(`rss growth under a ${hostile.inflatedBytes} byte gzip bomb: ${growthMiB.toFixed(1)} MiB`);
  t.is(code, 1);
  const byName = Object.fromEntries(report.clusters.map((c) => [c.name, c]));
  for (const name of [CLUSTER_NAMES.hzProd, CLUSTER_NAMES.bjProd]) {
    t.regex(
      byName[name]?.error ?? '',
      /registry acme-ee: (GetAuthorizationToken|ListInstanceEndpoint): answer encoded "gzip" refused \(none was asked for\)/,
    );
  }
  t.is(byName[TENANT]?.status, 'ok', 'the clusters of other registries converged');
  t.true(s.cloud.requestsTo(hostile.url).length >= 1, 'the request did go to the endpoint the operator wrote');
  t.true(
    growthMiB < 128,
    `peak rss grew ${growthMiB.toFixed(1)} MiB; inflating would take ${hostile.inflatedBytes} bytes`,
  );
  t.deepEqual(passwordsIn(s, CLUSTER_NAMES.bjProd), [], 'no Secret was written from the hostile answer');
});

test('a registry domain the cloud answers is kept only as an exact hostname; anything else is dropped and named', (t) => {
  t.deepEqual(
    registryDomains([
      'Acme-Registry.cn-beijing.cr.aliyuncs.com',
      'acme-registry.cn-beijing.cr.aliyuncs.com',
      'evil.example:443/?',
      'https://evil.example',
      '*.aliyuncs.com',
      'evil.example/acme-registry.cn-beijing.cr.aliyuncs.com',
    ]),
    {
      domains: ['acme-registry.cn-beijing.cr.aliyuncs.com'],
      dropped: [
        '"evil.example:443/?"',
        '"https://evil.example"',
        '"*.aliyuncs.com"',
        '"evil.example/acme-registry.cn-beijing.cr.aliyuncs.com"',
      ],
    },
  );
});

test("the credentials library's reader (httpx, which gunzips) gets the bomb refused before it inflates a byte", async (t) => {
  const s = await sandbox(t);
  const hostile = await s.cloud.hostileEndpoint();
  // @alicloud/credentials reads its STS and ECS-metadata answers with httpx.read; a cloud host's answers are capped.
  const httpx = createRequire(import.meta.url)('httpx') as {
    request(url: string, o: object): Promise<unknown>;
    read(res: unknown, enc: string): Promise<Buffer>;
  };
  capCloudResponses();
  const before = process.memoryUsage().rss;
  // As the library sends its STS calls: its own User-Agent, read with httpx.
  const headers = { 'user-agent': 'AlibabaCloud (linux; x64) Node.js/v20 Core/2.4.7 Credentials' };
  const res = await httpx.request(hostile.url, { method: 'POST', readTimeout: 5000, headers });
  await t.throwsAsync(httpx.read(res, ''), { message: /^answer encoded "gzip" refused \(none was asked for\)/ });
  t.true((process.memoryUsage().rss - before) / 2 ** 20 < 128);
  t.is(s.cloud.requestsTo(hostile.url).length, 1);
});
