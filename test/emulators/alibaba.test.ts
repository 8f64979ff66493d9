// The Alibaba Cloud emulator, driven by the real SDK clients (@alicloud/openapi-client callApi with the Params
// the generated SDKs use, and @alicloud/credentials), plus known-answer tests of its signature verifiers.
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import FcSdk from '@alicloud/fc20230330';
import OpenApi from '@alicloud/openapi-client';
import OpenApiUtilPkg from '@alicloud/openapi-util';
import TeaUtil from '@alicloud/tea-util';
import { AlibabaEmulator, type Credentials } from './alibaba/index.js';
import {
  acs3CanonicalRequest,
  acs3Signature,
  acs3StringToSign,
  EMPTY_SHA256,
  v1RoaSignature,
  v1RoaStringToSign,
  v1RpcSignature,
  v1RpcStringToSign,
} from './alibaba/signature.js';

const Client = OpenApi.default;
const OpenApiUtil = OpenApiUtilPkg.default;
type SdkClient = InstanceType<typeof Client>;
type SdkError = Error & {
  code?: string;
  statusCode?: number;
  data?: Record<string, unknown>;
  accessDeniedDetail?: Record<string, string>;
};

const HZ = 'cn-hangzhou';
const BJ = 'cn-beijing';
const ACCOUNT = '1234567890123456';

// ---------------------------------------------------------------- helpers

async function emulator(
  t: ExecutionContext,
  opts?: Parameters<typeof AlibabaEmulator.start>[0],
): Promise<AlibabaEmulator> {
  const emu = await AlibabaEmulator.start(opts);
  t.teardown(() => emu.close());
  emu.createAccount(ACCOUNT);
  return emu;
}

/** An SDK client aimed at one emulator endpoint, as product code builds it. */
function sdk(url: string, creds: Credentials, extra: { signatureAlgorithm?: string } = {}): SdkClient {
  const u = new URL(url);
  return new Client(
    new OpenApi.Config({
      accessKeyId: creds.accessKeyId,
      accessKeySecret: creds.accessKeySecret,
      ...(creds.securityToken ? { securityToken: creds.securityToken } : {}),
      endpoint: u.host,
      protocol: u.protocol.replace(':', ''),
      regionId: HZ,
      ...extra,
    }),
  );
}

const runtime = (): InstanceType<typeof TeaUtil.RuntimeOptions> => new TeaUtil.RuntimeOptions({});

/** RPC Params exactly as cr-20181201 / sts20150401 / kms-20160120 generate them. */
const rpc = (action: string, version: string): InstanceType<typeof OpenApi.Params> =>
  new OpenApi.Params({
    action,
    version,
    protocol: 'HTTPS',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });

async function callRpc(
  client: SdkClient,
  action: string,
  version: string,
  query: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const req = new OpenApi.OpenApiRequest({ query: OpenApiUtil.query(query) });
  const res = await client.callApi(rpc(action, version), req, runtime());
  return res.body as Record<string, unknown>;
}

const crEe = (c: SdkClient, action: string, query: Record<string, unknown>) => callRpc(c, action, '2018-12-01', query);
const sts = (c: SdkClient, action: string, query: Record<string, unknown>) => callRpc(c, action, '2015-04-01', query);
const kms = (c: SdkClient, action: string, query: Record<string, unknown>) => callRpc(c, action, '2016-01-20', query);

/** CR Personal Edition GetAuthorizationToken: ROA GET /tokens (bodyType json as mozillazg person.go uses). */
async function crPeToken(
  c: SdkClient,
): Promise<{ authorizationToken: string; tempUserName: string; expireDate: number }> {
  const params = new OpenApi.Params({
    action: 'GetAuthorizationToken',
    version: '2016-06-07',
    protocol: 'HTTPS',
    pathname: '/tokens',
    method: 'GET',
    authType: 'AK',
    style: 'ROA',
    reqBodyType: 'json',
    bodyType: 'json',
  });
  const res = await c.callApi(params, new OpenApi.OpenApiRequest({}), runtime());
  return (res.body as { data: { authorizationToken: string; tempUserName: string; expireDate: number } }).data;
}

/** CS DescribeClusterUserKubeconfig as cs-20151215 generates it. */
async function kubeconfig(
  c: SdkClient,
  clusterId: string,
  query: Record<string, unknown> = {},
): Promise<{ config: string; expiration: string }> {
  const params = new OpenApi.Params({
    action: 'DescribeClusterUserKubeconfig',
    version: '2015-12-15',
    protocol: 'HTTPS',
    pathname: `/k8s/${encodeURIComponent(clusterId)}/user_config`,
    method: 'GET',
    authType: 'AK',
    style: 'ROA',
    reqBodyType: 'json',
    bodyType: 'json',
  });
  const res = await c.callApi(params, new OpenApi.OpenApiRequest({ query: OpenApiUtil.query(query) }), runtime());
  return res.body as { config: string; expiration: string };
}

/** The SDK error a failing call throws, checked for code and HTTP status. */
async function fails(t: ExecutionContext, call: Promise<unknown>, code: string, status: number): Promise<SdkError> {
  const err = (await t.throwsAsync(call)) as SdkError;
  t.is(err.code, code, err.message);
  t.is(err.statusCode, status, err.message);
  return err;
}

const crUser = (emu: AlibabaEmulator, extra: string[] = []): Credentials =>
  emu.addUser({
    accountId: ACCOUNT,
    name: 'fleet',
    actions: ['cr:GetAuthorizationToken', 'cr:ListInstanceEndpoint', ...extra],
  });

// ---------------------------------------------------------------- signatures

test('the ACS3 verifier reproduces the reference known-answer signature', (t) => {
  const headers = {
    host: '127.0.0.1:8080',
    'x-acs-action': 'ListInstanceEndpoint',
    'x-acs-version': '2018-12-01',
    'x-acs-date': '2025-01-01T00:00:00Z',
    'x-acs-signature-nonce': 'nonce-1',
    'x-acs-security-token': 'tok',
    'x-acs-accesskey-id': 'testid',
    'x-acs-content-sha256': EMPTY_SHA256,
  };
  const canonical = acs3CanonicalRequest({
    method: 'POST',
    pathname: '/',
    query: { InstanceId: 'cri-abc123', Summary: 'true', ModuleName: 'Registry' },
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    signedHeaders: Object.keys(headers),
    payloadHash: EMPTY_SHA256,
  });
  t.is(
    acs3Signature('testsecret', acs3StringToSign(canonical)),
    'dc805c6056a8d49307a0ad56f999cd46df0efe20774464bc0cff7fb14404e6e5',
  );
});

// The reference's V1 vector (RWKgcB6o…) could not be reproduced: its inputs are not given. This vector was
// produced by running the real @alicloud/openapi-util getRPCSignature on these inputs.
test('the V1 RPC verifier reproduces a known-answer signature from the real openapi-util', (t) => {
  const params = {
    Action: 'AssumeRole',
    Format: 'json',
    Version: '2015-04-01',
    Timestamp: '2025-01-01T00:00:00Z',
    SignatureNonce: 'nonce-1',
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    AccessKeyId: 'testid',
    SecurityToken: 'tok',
    RoleArn: 'acs:ram::123456789012:role/test',
    RoleSessionName: 'test',
  };
  t.is(v1RpcSignature('testsecret', v1RpcStringToSign('POST', params)), 'VosHViJQhug9hGWX4TkzEpovobI=');
});

const awkward: { name: string; query: Record<string, string> }[] = [
  { name: 'plain values', query: { InstanceId: 'cri-1', Summary: 'true' } },
  {
    name: 'reserved characters',
    query: { Policy: '{"Statement":[{"Action":"*","Effect":"Allow"}]}', Name: "a b!'()*~+/=&" },
  },
  { name: 'unicode', query: { Description: '镜像 仓库', Tag: 'é' } },
];

for (const c of awkward) {
  test(`ACS3 and V1 verifiers agree with the real openapi-util for ${c.name}`, (t) => {
    const headers = {
      host: 'cr.cn-hangzhou.aliyuncs.com',
      'x-acs-action': 'X',
      'x-acs-version': 'v',
      'x-acs-date': '2025-01-01T00:00:00Z',
      'content-type': 'application/x-www-form-urlencoded',
    };
    const sdkRequest = {
      method: 'POST',
      pathname: '/k8s/c-1/user_config',
      query: c.query,
      headers,
    } as unknown as Parameters<typeof OpenApiUtil.getAuthorization>[0];
    const expected =
      OpenApiUtil.getAuthorization(sdkRequest, 'ACS3-HMAC-SHA256', EMPTY_SHA256, 'ak', 'sk').split('Signature=')[1] ??
      '';
    const canonical = acs3CanonicalRequest({
      method: 'POST',
      pathname: '/k8s/c-1/user_config',
      query: c.query,
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      signedHeaders: Object.keys(headers),
      payloadHash: EMPTY_SHA256,
    });
    t.is(acs3Signature('sk', acs3StringToSign(canonical)), expected);
    t.is(v1RpcSignature('sk', v1RpcStringToSign('POST', c.query)), OpenApiUtil.getRPCSignature(c.query, 'POST', 'sk'));
    const roa = {
      method: 'GET',
      pathname: '/tokens',
      query: c.query,
      headers: {
        accept: 'application/json',
        date: 'Wed, 01 Jan 2025 00:00:00 GMT',
        'x-acs-signature-nonce': 'n',
        'x-acs-version': '2016-06-07',
      },
    };
    const sdkSts = OpenApiUtil.getStringToSign(roa as unknown as Parameters<typeof OpenApiUtil.getStringToSign>[0]);
    t.is(v1RoaStringToSign(roa), sdkSts);
    t.is(v1RoaSignature('sk', sdkSts), OpenApiUtil.getROASignature(sdkSts, 'sk'));
  });
}

test('a request signed with the wrong secret fails with SignatureDoesNotMatch and the server string to sign', async (t) => {
  const emu = await emulator(t);
  const creds = crUser(emu);
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  const bad = { ...creds, accessKeySecret: 'wrong' };
  const acs3 = await fails(
    t,
    crEe(sdk(emu.endpoint('cr', HZ), bad), 'GetAuthorizationToken', { InstanceId: 'cri-a' }),
    'SignatureDoesNotMatch',
    400,
  );
  t.regex(
    acs3.message,
    /Specified signature does not match our calculation\. server StringToSign is \[ACS3-HMAC-SHA256\n[0-9a-f]{64}\]/,
  );
  const v1 = await fails(
    t,
    crEe(sdk(emu.endpoint('cr', HZ), bad, { signatureAlgorithm: 'v2' }), 'GetAuthorizationToken', {
      InstanceId: 'cri-a',
    }),
    'SignatureDoesNotMatch',
    400,
  );
  t.regex(
    v1.message,
    /Specified signature is not matched with our calculation\. server string to sign is:POST&%2F&AccessKeyId%3D/,
  );
});

test('V1 signatures from the SDK (signatureAlgorithm v2) are accepted for RPC and ROA', async (t) => {
  const emu = await emulator(t);
  const creds = emu.addUser({ accountId: ACCOUNT, name: 'v1', actions: ['cr:*', 'cs:*'] });
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  emu.enablePersonalEdition({ accountId: ACCOUNT, region: HZ });
  emu.addAckCluster({ accountId: ACCOUNT, region: HZ, clusterId: 'c1', kubeconfig: () => 'apiVersion: v1' });
  const v2 = { signatureAlgorithm: 'v2' };
  t.is(
    (await crEe(sdk(emu.endpoint('cr', HZ), creds, v2), 'GetAuthorizationToken', { InstanceId: 'cri-a' })).IsSuccess,
    true,
  );
  t.is((await crPeToken(sdk(emu.endpoint('cr', HZ), creds, v2))).tempUserName, 'cr_temp_user');
  t.is((await kubeconfig(sdk(emu.endpoint('cs', HZ), creds, v2), 'c1')).config, 'apiVersion: v1');
});

test('an unknown AccessKeyId fails with InvalidAccessKeyId.NotFound (404)', async (t) => {
  const emu = await emulator(t);
  await fails(
    t,
    crEe(sdk(emu.endpoint('cr', HZ), { accessKeyId: 'LTAInope', accessKeySecret: 'x' }), 'GetAuthorizationToken', {
      InstanceId: 'cri-a',
    }),
    'InvalidAccessKeyId.NotFound',
    404,
  );
});

/** Sends an ACS3 request signed by the real openapi-util, with chosen date and nonce. */
async function rawAcs3(
  url: string,
  creds: Credentials,
  date: string,
  nonce: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const u = new URL(url);
  const query = { InstanceId: 'cri-a' };
  const headers: Record<string, string> = {
    host: u.host,
    'x-acs-version': '2018-12-01',
    'x-acs-action': 'GetAuthorizationToken',
    'x-acs-date': date,
    'x-acs-signature-nonce': nonce,
    accept: 'application/json',
    'x-acs-content-sha256': EMPTY_SHA256,
  };
  const sdkRequest = { method: 'POST', pathname: '/', query, headers } as unknown as Parameters<
    typeof OpenApiUtil.getAuthorization
  >[0];
  headers.authorization = OpenApiUtil.getAuthorization(
    sdkRequest,
    'ACS3-HMAC-SHA256',
    EMPTY_SHA256,
    creds.accessKeyId,
    creds.accessKeySecret,
  );
  return await new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: u.hostname, port: u.port, method: 'POST', path: '/?InstanceId=cri-a', headers },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('a request dated more than 15 minutes off fails with InvalidTimeStamp.Expired', async (t) => {
  const emu = await emulator(t);
  const creds = crUser(emu);
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  const old = new Date(Date.now() - 16 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const res = await rawAcs3(emu.endpoint('cr', HZ), creds, old, 'n-old');
  t.is(res.status, 400);
  t.is(res.body.Code, 'InvalidTimeStamp.Expired');
  const recent = new Date(Date.now() - 5 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  t.is((await rawAcs3(emu.endpoint('cr', HZ), creds, recent, 'n-recent')).status, 200);
});

test('a replayed signature nonce fails with SignatureNonceUsed', async (t) => {
  const emu = await emulator(t);
  const creds = crUser(emu);
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  t.is((await rawAcs3(emu.endpoint('cr', HZ), creds, now, 'same')).status, 200);
  const replay = await rawAcs3(emu.endpoint('cr', HZ), creds, now, 'same');
  t.is(replay.status, 400);
  t.like(replay.body, { Code: 'SignatureNonceUsed', Message: 'Specified signature nonce was used already.' });
  t.truthy(replay.body.RequestId);
  t.truthy(replay.body.HostId);
  t.truthy(replay.body.Recommend);
});

// ---------------------------------------------------------------- STS credentials as callers

test('STS session credentials are accepted until they expire', async (t) => {
  const emu = await emulator(t);
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  const role = emu.addRole({ accountId: ACCOUNT, name: 'fc-role', actions: ['cr:*'] });
  const live = emu.roleSession(role, 1200);
  t.regex(live.expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const body = await crEe(sdk(emu.endpoint('cr', HZ), live), 'GetAuthorizationToken', { InstanceId: 'cri-a' });
  // The token cannot outlive the STS credentials that obtained it.
  t.true((body.ExpireTime as number) <= Date.parse(live.expiration) + 1000);
  t.true((body.ExpireTime as number) > Date.now() + 1100_000);
  t.is(emu.tokens[0]?.principal, `acs:ram::${ACCOUNT}:assumed-role/fc-role/fc-session-1`);
  const expired = emu.roleSession(role, -60);
  await fails(
    t,
    crEe(sdk(emu.endpoint('cr', HZ), expired), 'GetAuthorizationToken', { InstanceId: 'cri-a' }),
    'InvalidSecurityToken.Expired',
    400,
  );
});

const tokenCases = [
  { name: 'without its security token', token: undefined, code: 'MissingSecurityToken' },
  { name: "with another session's token", token: 'other', code: 'InvalidSecurityToken.MismatchWithAccessKey' },
  { name: 'with a token never issued', token: 'CAISbogus', code: 'InvalidSecurityToken.Malformed' },
];
for (const c of tokenCases) {
  test(`an STS AccessKey ${c.name} fails with ${c.code}`, async (t) => {
    const emu = await emulator(t);
    const role = emu.addRole({ accountId: ACCOUNT, name: 'r', actions: ['*'] });
    const session = emu.roleSession(role);
    const token = c.token === 'other' ? emu.roleSession(role).securityToken : c.token;
    const creds: Credentials = {
      accessKeyId: session.accessKeyId,
      accessKeySecret: session.accessKeySecret,
      ...(token ? { securityToken: token } : {}),
    };
    await fails(t, sts(sdk(emu.endpoint('sts', HZ), creds), 'GetCallerIdentity', {}), c.code, 400);
  });
}

// ---------------------------------------------------------------- Container Registry

test('Enterprise Edition returns a login token and the instance endpoints', async (t) => {
  const emu = await emulator(t);
  const client = sdk(emu.endpoint('cr', HZ), crUser(emu));
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  const before = Date.now();
  const token = await crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-a' });
  t.like(token, { TempUsername: 'cr_temp_user', IsSuccess: true, Code: 'success' });
  t.is(typeof token.RequestId, 'string');
  const expire = token.ExpireTime as number;
  t.true(expire >= before + 3600_000 && expire <= Date.now() + 3600_000, 'ExpireTime is epoch ms, one hour ahead');
  t.deepEqual(
    emu.tokens.map((x) => [x.registry, x.region, x.principal]),
    [['cri-a', HZ, `acs:ram::${ACCOUNT}:user/fleet`]],
  );

  const endpoints = await crEe(client, 'ListInstanceEndpoint', {
    InstanceId: 'cri-a',
    ModuleName: 'Registry',
    Summary: true,
  });
  t.like(endpoints, { Code: 'success', IsSuccess: true });
  const list = endpoints.Endpoints as {
    EndpointType: string;
    Enable: boolean;
    Status: string;
    Domains: { Domain: string; Type: string }[];
  }[];
  t.deepEqual(
    list.map((e) => [e.EndpointType, e.Enable, e.Status, e.Domains]),
    [
      ['internet', true, 'RUNNING', [{ Domain: `acme-registry.${HZ}.cr.aliyuncs.com`, Type: 'SYSTEM' }]],
      ['vpc', true, 'RUNNING', [{ Domain: `acme-registry-vpc.${HZ}.cr.aliyuncs.com`, Type: 'SYSTEM' }]],
    ],
  );
  const password = token.AuthorizationToken as string;
  t.true(emu.canLogin(`acme-registry.${HZ}.cr.aliyuncs.com`, 'cr_temp_user', password));
  t.true(emu.canLogin(`acme-registry-vpc.${HZ}.cr.aliyuncs.com`, 'cr_temp_user', password));
});

test('ListInstance and GetInstanceEndpoint describe the instances of the caller in the region', async (t) => {
  const emu = await emulator(t);
  const client = sdk(emu.endpoint('cr', HZ), crUser(emu, ['cr:ListInstance', 'cr:GetInstanceEndpoint']));
  emu.addEnterpriseInstance({
    accountId: ACCOUNT,
    instanceId: 'cri-a',
    name: 'acme',
    region: HZ,
    domains: { internet: ['reg.example.com'] },
  });
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-b', name: 'other', region: BJ });
  const listed = await crEe(client, 'ListInstance', { InstanceName: 'acme' });
  t.like(listed, { TotalCount: 1, IsSuccess: true });
  t.like((listed.Instances as Record<string, unknown>[])[0], {
    InstanceId: 'cri-a',
    InstanceName: 'acme',
    InstanceStatus: 'RUNNING',
    RegionId: HZ,
  });
  const ep = await crEe(client, 'GetInstanceEndpoint', {
    InstanceId: 'cri-a',
    EndpointType: 'internet',
    ModuleName: 'Registry',
  });
  t.deepEqual(ep.Domains, [{ Domain: 'reg.example.com', Type: 'SYSTEM' }]);
});

const notThere = [
  { name: 'in another region', region: BJ, account: ACCOUNT },
  { name: 'of another account', region: HZ, account: '999' },
];
for (const c of notThere) {
  test(`an Enterprise instance ${c.name} is not found (INSTANCE_NOT_EXIST)`, async (t) => {
    const emu = await emulator(t);
    emu.createAccount('999');
    emu.addEnterpriseInstance({ accountId: c.account, instanceId: 'cri-x', name: 'x', region: HZ });
    const client = sdk(emu.endpoint('cr', c.region), crUser(emu));
    await fails(t, crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-x' }), 'INSTANCE_NOT_EXIST', 404);
    await fails(t, crEe(client, 'ListInstanceEndpoint', { InstanceId: 'cri-x' }), 'INSTANCE_NOT_EXIST', 404);
  });
}

test('Personal Edition returns a token for the registry hosts of its region only', async (t) => {
  const emu = await emulator(t);
  emu.enablePersonalEdition({ accountId: ACCOUNT, region: HZ, tokenTtlSeconds: 1800 });
  const data = await crPeToken(sdk(emu.endpoint('cr', HZ), crUser(emu)));
  t.is(data.tempUserName, 'cr_temp_user');
  t.true(data.expireDate > Date.now() + 1700_000 && data.expireDate <= Date.now() + 1800_000);
  t.is(emu.tokens[0]?.registry, `personal:${HZ}`);
  t.true(emu.canLogin(`registry.${HZ}.aliyuncs.com`, data.tempUserName, data.authorizationToken));
  t.true(emu.canLogin(`registry-vpc.${HZ}.aliyuncs.com`, data.tempUserName, data.authorizationToken));
  t.false(emu.canLogin(`registry.${BJ}.aliyuncs.com`, data.tempUserName, data.authorizationToken));
});

const peMissing = [
  {
    name: 'the RAM user has no CR password',
    setup: (emu: AlibabaEmulator) => emu.enablePersonalEdition({ accountId: ACCOUNT, region: HZ, userExists: false }),
  },
  {
    name: 'Personal Edition is not enabled in the region',
    setup: (emu: AlibabaEmulator) => emu.enablePersonalEdition({ accountId: ACCOUNT, region: BJ }),
  },
];
for (const c of peMissing) {
  test(`Personal Edition answers USER_NOT_EXIST (404) when ${c.name}`, async (t) => {
    const emu = await emulator(t);
    c.setup(emu);
    const err = await fails(t, crPeToken(sdk(emu.endpoint('cr', HZ), crUser(emu))), 'USER_NOT_EXIST', 404);
    t.like(err.data, { code: 'USER_NOT_EXIST', message: 'user is not exist.' });
  });
}

test('canLogin rejects expired tokens, wrong domains and wrong passwords', async (t) => {
  const emu = await emulator(t);
  const client = sdk(emu.endpoint('cr', HZ), crUser(emu));
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-old', name: 'old', region: HZ, tokenTtlSeconds: 0 });
  const good = (await crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-a' })).AuthorizationToken as string;
  const stale = (await crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-old' })).AuthorizationToken as string;
  t.true(emu.canLogin(`ACME-registry.${HZ}.cr.aliyuncs.com`, 'cr_temp_user', good));
  t.false(emu.canLogin(`old-registry.${HZ}.cr.aliyuncs.com`, 'cr_temp_user', stale));
  t.false(emu.canLogin(`old-registry.${HZ}.cr.aliyuncs.com`, 'cr_temp_user', good));
  t.false(emu.canLogin(`registry.${HZ}.aliyuncs.com`, 'cr_temp_user', good));
  t.false(emu.canLogin(`acme-registry.${HZ}.cr.aliyuncs.com`, 'cr_temp_user', `${good}x`));
  t.false(emu.canLogin(`acme-registry.${HZ}.cr.aliyuncs.com`, 'someone', good));
});

// ---------------------------------------------------------------- RAM permissions

test('each product denies an action outside the caller policy with its own code', async (t) => {
  const emu = await emulator(t);
  const creds = emu.addUser({ accountId: ACCOUNT, name: 'nobody', actions: ['ecs:DescribeInstances'] });
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  emu.enablePersonalEdition({ accountId: ACCOUNT, region: HZ });
  emu.putKmsSecret({ accountId: ACCOUNT, region: HZ, name: 's', data: 'x' });
  emu.addAckCluster({ accountId: ACCOUNT, region: HZ, clusterId: 'c1', kubeconfig: () => 'x' });
  const role = emu.addRole({ accountId: ACCOUNT, name: 'r', actions: ['*'] });
  const cr = await fails(
    t,
    crEe(sdk(emu.endpoint('cr', HZ), creds), 'GetAuthorizationToken', { InstanceId: 'cri-a' }),
    'NoPermission',
    403,
  );
  t.like(cr.accessDeniedDetail, {
    AuthAction: 'cr:GetAuthorizationToken',
    AuthPrincipalType: 'SubUser',
    NoPermissionType: 'ImplicitDeny',
  });
  await fails(t, crPeToken(sdk(emu.endpoint('cr', HZ), creds)), 'NoPermission', 403);
  await fails(
    t,
    kms(sdk(emu.endpoint('kms', HZ), creds), 'GetSecretValue', { SecretName: 's' }),
    'Forbidden.NoPermission',
    403,
  );
  await fails(t, kubeconfig(sdk(emu.endpoint('cs', HZ), creds), 'c1'), 'ErrorCheckAcl', 403);
  await fails(
    t,
    sts(sdk(emu.endpoint('sts', HZ), creds), 'AssumeRole', { RoleArn: role, RoleSessionName: 'x1' }),
    'NoPermission',
    403,
  );
});

test('resource patterns limit a permission to the named instances', async (t) => {
  const emu = await emulator(t);
  const creds = emu.addUser({
    accountId: ACCOUNT,
    name: 'scoped',
    actions: ['cr:GetAuthorizationToken'],
    resources: ['acs:cr:*:*:repository/cri-a'],
  });
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'a', region: HZ });
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-b', name: 'b', region: HZ });
  const client = sdk(emu.endpoint('cr', HZ), creds);
  t.is((await crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-a' })).IsSuccess, true);
  await fails(t, crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-b' }), 'NoPermission', 403);
});

// ---------------------------------------------------------------- STS AssumeRole

test('AssumeRole returns credentials that act with the role permissions', async (t) => {
  const emu = await emulator(t);
  const user = emu.addUser({ accountId: ACCOUNT, name: 'deployer', actions: ['sts:AssumeRole'] });
  const role = emu.addRole({
    accountId: ACCOUNT,
    name: 'puller',
    actions: ['cr:GetAuthorizationToken'],
    trustedPrincipals: [`acs:ram::${ACCOUNT}:user/deployer`],
  });
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  await fails(
    t,
    crEe(sdk(emu.endpoint('cr', HZ), user), 'GetAuthorizationToken', { InstanceId: 'cri-a' }),
    'NoPermission',
    403,
  );
  const body = await sts(sdk(emu.endpoint('sts', HZ), user), 'AssumeRole', {
    RoleArn: role,
    RoleSessionName: 'acr-fleet',
    DurationSeconds: 900,
  });
  const c = body.Credentials as {
    AccessKeyId: string;
    AccessKeySecret: string;
    SecurityToken: string;
    Expiration: string;
  };
  t.regex(c.AccessKeyId, /^STS\./);
  t.regex(c.Expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.true(Math.abs(Date.parse(c.Expiration) - (Date.now() + 900_000)) < 5000);
  t.like(body.AssumedRoleUser, { Arn: `acs:ram::${ACCOUNT}:role/puller/acr-fleet` });
  const assumed = sdk(emu.endpoint('cr', HZ), {
    accessKeyId: c.AccessKeyId,
    accessKeySecret: c.AccessKeySecret,
    securityToken: c.SecurityToken,
  });
  t.is((await crEe(assumed, 'GetAuthorizationToken', { InstanceId: 'cri-a' })).IsSuccess, true);
  t.is(emu.tokens[0]?.principal, `acs:ram::${ACCOUNT}:assumed-role/puller/acr-fleet`);
  const who = await sts(
    sdk(emu.endpoint('sts', HZ), {
      accessKeyId: c.AccessKeyId,
      accessKeySecret: c.AccessKeySecret,
      securityToken: c.SecurityToken,
    }),
    'GetCallerIdentity',
    {},
  );
  t.like(who, {
    IdentityType: 'AssumedRoleUser',
    AccountId: ACCOUNT,
    Arn: `acs:ram::${ACCOUNT}:assumed-role/puller/acr-fleet`,
  });
});

const assumeCases: {
  name: string;
  query: Record<string, unknown>;
  code: string;
  status: number;
  role?: Partial<Parameters<AlibabaEmulator['addRole']>[0]>;
}[] = [
  {
    name: 'a role that does not trust the caller',
    query: {},
    code: 'NoPermission',
    status: 403,
    role: { trustedPrincipals: [`acs:ram::${ACCOUNT}:user/someone-else`] },
  },
  {
    name: 'a role of an account that does not trust the caller',
    query: {},
    code: 'NoPermission',
    status: 403,
    role: { accountId: '999' },
  },
  { name: 'a missing ExternalId', query: {}, code: 'NoPermission', status: 403, role: { externalId: 'ext-123' } },
  {
    name: 'a wrong ExternalId',
    query: { ExternalId: 'nope' },
    code: 'NoPermission',
    status: 403,
    role: { externalId: 'ext-123' },
  },
  {
    name: 'a DurationSeconds below 900',
    query: { DurationSeconds: 899 },
    code: 'InvalidParameter.DurationSeconds',
    status: 400,
  },
  {
    name: 'a DurationSeconds above the role maximum',
    query: { DurationSeconds: 3601 },
    code: 'InvalidParameter.DurationSeconds',
    status: 400,
  },
  {
    name: 'a malformed RoleSessionName',
    query: { RoleSessionName: 'bad name!' },
    code: 'InvalidParameter.RoleSessionName',
    status: 400,
  },
  {
    name: 'a one-character RoleSessionName',
    query: { RoleSessionName: 'a' },
    code: 'InvalidParameter.RoleSessionName',
    status: 400,
  },
  {
    name: 'a Policy that fails the grammar check',
    query: { Policy: '{"Statement":"x"}' },
    code: 'InvalidParameter.PolicyGrammar',
    status: 400,
  },
  {
    name: 'an unknown role',
    query: { RoleArn: `acs:ram::${ACCOUNT}:role/ghost` },
    code: 'EntityNotExist.Role',
    status: 404,
  },
  { name: 'no RoleArn', query: { RoleArn: undefined }, code: 'MissingRoleArn', status: 400 },
];
for (const c of assumeCases) {
  test(`AssumeRole refuses ${c.name} with ${c.code}`, async (t) => {
    const emu = await emulator(t);
    emu.createAccount('999');
    const user = emu.addUser({ accountId: ACCOUNT, name: 'deployer', actions: ['sts:AssumeRole'] });
    const role = emu.addRole({ accountId: ACCOUNT, name: 'target', actions: ['*'], ...c.role });
    const query = { RoleArn: role, RoleSessionName: 'session', ...c.query };
    await fails(t, sts(sdk(emu.endpoint('sts', HZ), user), 'AssumeRole', query), c.code, c.status);
  });
}

test('AssumeRole honours ExternalId and MaxSessionDuration when they match', async (t) => {
  const emu = await emulator(t);
  const user = emu.addUser({ accountId: ACCOUNT, name: 'deployer', actions: ['sts:AssumeRole'] });
  const role = emu.addRole({
    accountId: ACCOUNT,
    name: 'target',
    actions: ['*'],
    externalId: 'ext-123',
    maxSessionDuration: 7200,
  });
  const body = await sts(sdk(emu.endpoint('sts', HZ), user), 'AssumeRole', {
    RoleArn: role,
    RoleSessionName: 'session',
    ExternalId: 'ext-123',
    DurationSeconds: 7200,
  });
  t.true(Date.parse((body.Credentials as { Expiration: string }).Expiration) > Date.now() + 7100_000);
});

test('root accounts may not assume roles', async (t) => {
  const emu = await emulator(t);
  const role = emu.addRole({ accountId: ACCOUNT, name: 'target', actions: ['*'] });
  const err = await fails(
    t,
    sts(sdk(emu.endpoint('sts', HZ), emu.rootCredentials(ACCOUNT)), 'AssumeRole', {
      RoleArn: role,
      RoleSessionName: 'session',
    }),
    'NoPermission',
    403,
  );
  t.regex(err.message, /Roles may not be assumed by root accounts/);
});

test('a session Policy narrows what the assumed role may do', async (t) => {
  const emu = await emulator(t);
  const user = emu.addUser({ accountId: ACCOUNT, name: 'deployer', actions: ['sts:AssumeRole'] });
  const role = emu.addRole({ accountId: ACCOUNT, name: 'target', actions: ['*'] });
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  const policy = JSON.stringify({
    Version: '1',
    Statement: [{ Effect: 'Allow', Action: 'cr:ListInstanceEndpoint', Resource: '*' }],
  });
  const body = await sts(sdk(emu.endpoint('sts', HZ), user), 'AssumeRole', {
    RoleArn: role,
    RoleSessionName: 'narrow',
    Policy: policy,
  });
  const c = body.Credentials as { AccessKeyId: string; AccessKeySecret: string; SecurityToken: string };
  const narrow = sdk(emu.endpoint('cr', HZ), {
    accessKeyId: c.AccessKeyId,
    accessKeySecret: c.AccessKeySecret,
    securityToken: c.SecurityToken,
  });
  t.is((await crEe(narrow, 'ListInstanceEndpoint', { InstanceId: 'cri-a' })).IsSuccess, true);
  await fails(t, crEe(narrow, 'GetAuthorizationToken', { InstanceId: 'cri-a' }), 'NoPermission', 403);
});

// ---------------------------------------------------------------- STS AssumeRoleWithOIDC

/** AssumeRoleWithOIDC exactly as @alicloud/sts20150401 sends it: anonymous doRPCRequest, params in the query. */
async function assumeWithOidc(url: string, query: Record<string, unknown>): Promise<Record<string, unknown>> {
  const client = sdk(url, { accessKeyId: 'unused', accessKeySecret: 'unused' });
  const res = await client.doRPCRequest(
    'AssumeRoleWithOIDC',
    '2015-04-01',
    'HTTPS',
    'POST',
    'Anonymous',
    'json',
    new OpenApi.OpenApiRequest({ query: OpenApiUtil.query(query) }),
    runtime(),
  );
  return res.body as Record<string, unknown>;
}

async function oidcSetup(t: ExecutionContext) {
  const emu = await emulator(t);
  const issuer = 'https://oidc-ack-cn-hangzhou.oss-cn-hangzhou.aliyuncs.com/c1';
  const provider = emu.addOidcProvider({ accountId: ACCOUNT, name: 'ack-rrsa-c1', issuer });
  const role = emu.addRole({
    accountId: ACCOUNT,
    name: 'rrsa',
    actions: ['cr:*'],
    trustedOidcProviders: [{ arn: provider, issuer, subject: 'system:serviceaccount:acr-fleet:fleet' }],
  });
  const query = (token: string) => ({
    OIDCProviderArn: provider,
    RoleArn: role,
    OIDCToken: token,
    RoleSessionName: 'rrsa-session',
  });
  return { emu, provider, role, query, url: emu.endpoint('sts', HZ) };
}

test('AssumeRoleWithOIDC exchanges a valid token for role credentials', async (t) => {
  const { emu, provider, query, url } = await oidcSetup(t);
  const token = emu.oidcToken({ providerArn: provider, subject: 'system:serviceaccount:acr-fleet:fleet' });
  const body = await assumeWithOidc(url, query(token));
  t.like(body.OIDCTokenInfo, { Subject: 'system:serviceaccount:acr-fleet:fleet', ClientIds: 'sts.aliyuncs.com' });
  t.like(body.AssumedRoleUser, { Arn: `acs:ram::${ACCOUNT}:role/rrsa/rrsa-session` });
  t.regex((body.Credentials as { AccessKeyId: string }).AccessKeyId, /^STS\./);
  // The same call through callApi with authType Anonymous (ACS3 headers, no Authorization) is accepted too.
  const params = new OpenApi.Params({
    action: 'AssumeRoleWithOIDC',
    version: '2015-04-01',
    protocol: 'HTTPS',
    pathname: '/',
    method: 'POST',
    authType: 'Anonymous',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });
  const viaCallApi = await sdk(url, { accessKeyId: 'unused', accessKeySecret: 'unused' }).callApi(
    params,
    new OpenApi.OpenApiRequest({ query: OpenApiUtil.query(query(token)) }),
    runtime(),
  );
  t.like(viaCallApi.body, { AssumedRoleUser: { Arn: `acs:ram::${ACCOUNT}:role/rrsa/rrsa-session` } });
});

const oidcCases = [
  { name: 'an expired token', token: { ttlSeconds: -10 }, code: 'AuthenticationFail.OIDCToken.Expired', status: 400 },
  {
    name: 'a token for another subject',
    token: { subject: 'system:serviceaccount:default:other' },
    code: 'AuthenticationFail.NoPermission',
    status: 403,
  },
  {
    name: 'a token for another audience',
    token: { audience: 'someone-else' },
    code: 'AuthenticationFail.OIDCToken.AudienceNotMatch',
    status: 400,
  },
  { name: 'a tampered token', token: { tamper: true }, code: 'AuthenticationFail.OIDCToken.Invalid', status: 400 },
];
for (const c of oidcCases) {
  test(`AssumeRoleWithOIDC rejects ${c.name} with ${c.code}`, async (t) => {
    const { emu, provider, query, url } = await oidcSetup(t);
    const { tamper, ...opts } = { tamper: false, ...c.token };
    let token = emu.oidcToken({ providerArn: provider, subject: 'system:serviceaccount:acr-fleet:fleet', ...opts });
    if (tamper) token = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await fails(t, assumeWithOidc(url, query(token)), c.code, c.status);
  });
}

// ---------------------------------------------------------------- @alicloud/credentials providers (HTTPS)

const MAIN = fileURLToPath(new URL('../..', import.meta.url));
const CERT = fileURLToPath(new URL('./tls/cert.pem', import.meta.url));

/** Runs @alicloud/credentials in a child that trusts the test CA (its providers force https). */
async function credentialsChild(config: Record<string, unknown>): Promise<{ ok: boolean; value: string }> {
  const script = `
    const Credential = require('@alicloud/credentials').default;
    const { Config } = require('@alicloud/credentials');
    new Credential(new Config(${JSON.stringify(config)})).getCredential()
      .then((c) => console.log(JSON.stringify({ ok: true, value: c.accessKeyId + ' ' + c.type })))
      .catch((e) => console.log(JSON.stringify({ ok: false, value: String(e.message) })));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
    cwd: MAIN,
    env: { ...process.env, NODE_EXTRA_CA_CERTS: CERT },
    timeout: 15_000,
  });
  return JSON.parse(stdout) as { ok: boolean; value: string };
}

test('@alicloud/credentials ram_role_arn and oidc_role_arn obtain credentials over HTTPS', async (t) => {
  const emu = await emulator(t, { tls: true });
  t.regex(emu.endpoint('sts', HZ), /^https:\/\/127\.0\.0\.1:\d+$/);
  const stsHost = new URL(emu.endpoint('sts', HZ)).host;
  const user = emu.addUser({ accountId: ACCOUNT, name: 'deployer', actions: ['sts:AssumeRole'] });
  const role = emu.addRole({ accountId: ACCOUNT, name: 'target', actions: ['*'] });
  const ramRoleArn = {
    type: 'ram_role_arn',
    accessKeyId: user.accessKeyId,
    accessKeySecret: user.accessKeySecret,
    roleArn: role,
    roleSessionName: 'cred-test',
    stsEndpoint: stsHost,
  };
  const issuer = 'https://issuer.example.com';
  const provider = emu.addOidcProvider({ accountId: ACCOUNT, name: 'p', issuer });
  const oidcRole = emu.addRole({
    accountId: ACCOUNT,
    name: 'oidc',
    actions: ['*'],
    trustedOidcProviders: [{ arn: provider, issuer }],
  });
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'alibaba-emu-')), 'token');
  writeFileSync(tokenFile, emu.oidcToken({ providerArn: provider, subject: 'sa' }));
  const oidc = {
    type: 'oidc_role_arn',
    roleArn: oidcRole,
    oidcProviderArn: provider,
    oidcTokenFilePath: tokenFile,
    roleSessionName: 'oidc-test',
    stsEndpoint: stsHost,
  };
  const [assumed, viaOidc, wrongSecret] = await Promise.all([
    credentialsChild(ramRoleArn),
    credentialsChild(oidc),
    credentialsChild({ ...ramRoleArn, accessKeySecret: 'wrong' }),
  ]);
  t.deepEqual([assumed.ok, viaOidc.ok], [true, true], `${assumed.value} / ${viaOidc.value}`);
  t.regex(assumed.value, /^STS\.\S+ ram_role_arn$/);
  t.regex(viaOidc.value, /^STS\.\S+ oidc_role_arn$/);
  // The provider recognises its own string to sign in our V1 message and blames the secret.
  t.deepEqual(wrongSecret, { ok: false, value: 'the access key secret is invalid' });
  t.deepEqual(
    emu.requests
      .filter((r) => r.product === 'sts')
      .map((r) => r.status)
      .sort(),
    [200, 200, 400],
  );
});

// ---------------------------------------------------------------- KMS

test('KMS secrets can be created, read, versioned and deleted', async (t) => {
  const emu = await emulator(t);
  const client = sdk(emu.endpoint('kms', HZ), emu.addUser({ accountId: ACCOUNT, name: 'k', actions: ['kms:*'] }));
  const created = await kms(client, 'CreateSecret', { SecretName: 'fleet', SecretData: '{"a":1}', VersionId: 'v1' });
  t.like(created, { SecretName: 'fleet', VersionId: 'v1', Arn: `acs:kms:${HZ}:${ACCOUNT}:secret/fleet` });
  t.like(await kms(client, 'GetSecretValue', { SecretName: 'fleet' }), {
    SecretData: '{"a":1}',
    VersionId: 'v1',
    SecretDataType: 'text',
    VersionStages: { VersionStage: ['ACSCurrent'] },
  });
  await fails(
    t,
    kms(client, 'CreateSecret', { SecretName: 'fleet', SecretData: 'x', VersionId: 'v9' }),
    'Rejected.ResourceExist',
    409,
  );
  t.like(await kms(client, 'PutSecretValue', { SecretName: 'fleet', SecretData: '{"a":2}', VersionId: 'v2' }), {
    VersionStages: { VersionStage: ['ACSCurrent'] },
  });
  t.like(await kms(client, 'GetSecretValue', { SecretName: `acs:kms:${HZ}:${ACCOUNT}:secret/fleet` }), {
    SecretData: '{"a":2}',
    VersionId: 'v2',
  });
  t.like(await kms(client, 'GetSecretValue', { SecretName: 'fleet', VersionStage: 'ACSPrevious' }), {
    SecretData: '{"a":1}',
    VersionId: 'v1',
  });
  t.deepEqual(emu.getKmsSecret(ACCOUNT, HZ, 'fleet'), { data: '{"a":2}', versions: ['v1', 'v2'] });
  t.like(await kms(client, 'DeleteSecret', { SecretName: 'fleet', ForceDeleteWithoutRecovery: true }), {
    SecretName: 'fleet',
  });
  const err = await fails(t, kms(client, 'GetSecretValue', { SecretName: 'fleet' }), 'Forbidden.ResourceNotFound', 404);
  t.regex(err.message, /code: 404, Resource not found/);
  t.is(emu.getKmsSecret(ACCOUNT, HZ, 'fleet'), undefined);
});

test('KMS reads parameters from a form body as well as from the query', async (t) => {
  const emu = await emulator(t);
  emu.putKmsSecret({ accountId: ACCOUNT, region: HZ, name: 'seeded', data: 'c2VjcmV0', dataType: 'binary' });
  const client = sdk(
    emu.endpoint('kms', HZ),
    emu.addUser({ accountId: ACCOUNT, name: 'k', actions: ['kms:GetSecretValue'] }),
  );
  const res = await client.callApi(
    rpc('GetSecretValue', '2016-01-20'),
    new OpenApi.OpenApiRequest({ body: { SecretName: 'seeded' } }),
    runtime(),
  );
  t.like(res.body, { SecretData: 'c2VjcmV0', SecretDataType: 'binary', VersionId: 'v1' });
  await fails(
    t,
    kms(
      sdk(emu.endpoint('kms', BJ), emu.addUser({ accountId: ACCOUNT, name: 'k2', actions: ['kms:*'] })),
      'GetSecretValue',
      { SecretName: 'seeded' },
    ),
    'Forbidden.ResourceNotFound',
    404,
  );
});

// ---------------------------------------------------------------- ACK

test('DescribeClusterUserKubeconfig returns the cluster kubeconfig and its expiration', async (t) => {
  const emu = await emulator(t);
  emu.addAckCluster({
    accountId: ACCOUNT,
    region: HZ,
    clusterId: 'c0a1b2',
    kubeconfig: (m) => `apiVersion: v1\n# valid ${m} minutes\n`,
  });
  const creds = emu.addUser({
    accountId: ACCOUNT,
    name: 'ops',
    actions: ['cs:DescribeClusterUserKubeconfig'],
    resources: [`acs:cs:${HZ}:${ACCOUNT}:cluster/c0a1b2`],
  });
  const res = await kubeconfig(sdk(emu.endpoint('cs', HZ), creds), 'c0a1b2', {
    PrivateIpAddress: false,
    TemporaryDurationMinutes: 60,
  });
  t.is(res.config, 'apiVersion: v1\n# valid 60 minutes\n');
  t.true(Math.abs(Date.parse(res.expiration) - (Date.now() + 3600_000)) < 5000);
  await fails(
    t,
    kubeconfig(sdk(emu.endpoint('cs', HZ), creds), 'c0a1b2', { TemporaryDurationMinutes: 5 }),
    'InvalidParameter',
    400,
  );
  const admin = emu.addUser({ accountId: ACCOUNT, name: 'admin', actions: ['cs:*'] });
  await fails(t, kubeconfig(sdk(emu.endpoint('cs', HZ), admin), 'missing'), 'ErrorClusterNotFound', 404);
  await fails(t, kubeconfig(sdk(emu.endpoint('cs', BJ), admin), 'c0a1b2'), 'ErrorClusterNotFound', 404);
});

// ---------------------------------------------------------------- faults, routing and observation

test('an injected error reaches the SDK as its code and status, then the action works again', async (t) => {
  const emu = await emulator(t);
  const client = sdk(emu.endpoint('cr', HZ), crUser(emu));
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  emu.injectError({
    action: 'GetAuthorizationToken',
    status: 503,
    code: 'ServiceUnavailable',
    message: 'The request has failed due to a temporary failure of the server.',
    times: 2,
  });
  emu.injectError({ action: 'ListInstanceEndpoint', region: BJ, status: 500 });
  const err = await fails(t, crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-a' }), 'ServiceUnavailable', 503);
  t.regex(
    err.message,
    /code: 503, The request has failed due to a temporary failure of the server\. request id: [0-9A-F-]{36}/,
  );
  await fails(t, crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-a' }), 'ServiceUnavailable', 503);
  t.is((await crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-a' })).IsSuccess, true);
  // Scoped to cn-beijing: the Hangzhou call is untouched.
  t.is((await crEe(client, 'ListInstanceEndpoint', { InstanceId: 'cri-a' })).IsSuccess, true);
  t.deepEqual(
    emu.requests.map((r) => [r.product, r.region, r.action, r.status, r.code]),
    [
      ['cr', HZ, 'GetAuthorizationToken', 503, 'ServiceUnavailable'],
      ['cr', HZ, 'GetAuthorizationToken', 503, 'ServiceUnavailable'],
      ['cr', HZ, 'GetAuthorizationToken', 200, undefined],
      ['cr', HZ, 'ListInstanceEndpoint', 200, undefined],
    ],
  );
  t.truthy(emu.requests[0]?.accessKeyId?.startsWith('LTAI'));
});

test('injected latency delays the call without failing it', async (t) => {
  const emu = await emulator(t);
  const client = sdk(emu.endpoint('cr', HZ), crUser(emu));
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  emu.injectError({ action: 'GetAuthorizationToken', latencyMs: 300 });
  const start = Date.now();
  t.is((await crEe(client, 'GetAuthorizationToken', { InstanceId: 'cri-a' })).IsSuccess, true);
  t.true(Date.now() - start >= 290);
});

test('unknown actions and versions fail like the gateway', async (t) => {
  const emu = await emulator(t);
  const client = sdk(emu.endpoint('cr', HZ), crUser(emu));
  await fails(t, crEe(client, 'DeleteEverything', {}), 'InvalidAction.NotFound', 404);
  await fails(t, callRpc(client, 'GetAuthorizationToken', '2099-01-01', { InstanceId: 'x' }), 'InvalidVersion', 400);
  await fails(t, crEe(client, 'GetAuthorizationToken', {}), 'MissingInstanceId', 400);
});

test('endpointsConfig lists a distinct endpoint for every product and region', async (t) => {
  const emu = await emulator(t, { regions: [HZ, 'ap-southeast-1'] });
  const config = emu.endpointsConfig();
  t.deepEqual(Object.keys(config).sort(), ['cr', 'cs', 'fc', 'kms', 'sts']);
  const urls = Object.values(config).flatMap((byRegion) => Object.values(byRegion));
  t.is(urls.length, 10);
  t.is(new Set(urls).size, 10);
  t.is(config.kms['ap-southeast-1'], emu.endpoint('kms', 'ap-southeast-1'));
  t.throws(() => emu.endpoint('cr', BJ));
});

// ---------------------------------------------------------------- Function Compute 3.0

/** The FC 3.0 SDK client as product code builds it (the invocation endpoint set explicitly). */
function fcClient(emu: AlibabaEmulator, creds: Credentials) {
  const u = new URL(emu.endpoint('fc', HZ));
  return new FcSdk.default(new OpenApi.Config({ ...creds, endpoint: u.host, protocol: 'http', regionId: HZ }));
}

async function invoke(emu: AlibabaEmulator, creds: Credentials, type: 'Sync' | 'Async', event: string) {
  const res = await fcClient(emu, creds).invokeFunctionWithOptions(
    'fn',
    new FcSdk.InvokeFunctionRequest({ body: Readable.from([Buffer.from(event)]) }),
    new FcSdk.InvokeFunctionHeaders({ xFcInvocationType: type }),
    new TeaUtil.RuntimeOptions({}),
  );
  let body = '';
  for await (const chunk of res.body ?? []) body += String(chunk);
  return { status: res.statusCode, headers: res.headers ?? {}, body };
}

test('InvokeFunction runs the handler: Sync answers its result, a throw is an UnhandledInvocationError, Async answers 202 and runs it after', async (t) => {
  const emu = await emulator(t);
  const role = emu.addRole({ accountId: ACCOUNT, name: 'fn-role', actions: [] });
  const seen: { event: string; role: boolean }[] = [];
  emu.addFunction({
    accountId: ACCOUNT,
    region: HZ,
    name: 'fn',
    role,
    maxAsyncRetryAttempts: 1,
    handler: async (event, context) => {
      seen.push({
        event: event.toString(),
        role: typeof context.credentials.securityToken === 'string' && context.function.name === 'fn',
      });
      if (event.toString() === 'boom') throw new TypeError('boom!');
      return { echoed: event.toString() };
    },
  });
  const caller = emu.addUser({
    accountId: ACCOUNT,
    name: 'invoker',
    actions: ['fc:InvokeFunction'],
    resources: [`acs:fc:${HZ}:${ACCOUNT}:functions/fn`],
  });

  const sync = await invoke(emu, caller, 'Sync', 'hello');
  t.is(sync.status, 200);
  t.deepEqual(JSON.parse(sync.body), { echoed: 'hello' });

  const failed = await invoke(emu, caller, 'Sync', 'boom');
  t.is(failed.headers['x-fc-error-type'], 'UnhandledInvocationError');
  t.deepEqual(JSON.parse(failed.body), { errorMessage: 'boom!', errorType: 'TypeError' });

  const queued = await invoke(emu, caller, 'Async', 'boom');
  t.is(queued.status, 202);
  t.is(queued.body, '');
  await emu.settled();
  t.like(emu.asyncInvocations[0], { event: 'boom', status: 'failed', attempts: 2, error: 'boom!' });
  t.true(
    seen.every((s) => s.role),
    'the handler gets a session of the function role and its name',
  );
});

test('InvokeFunction needs fc:InvokeFunction on that function, and the function must exist', async (t) => {
  const emu = await emulator(t);
  emu.addFunction({
    accountId: ACCOUNT,
    region: HZ,
    name: 'fn',
    role: emu.addRole({ accountId: ACCOUNT, name: 'r', actions: [] }),
    handler: () => Promise.resolve(null),
  });
  const other = emu.addUser({
    accountId: ACCOUNT,
    name: 'other',
    actions: ['fc:InvokeFunction'],
    resources: [`acs:fc:${HZ}:${ACCOUNT}:functions/another`],
  });
  await fails(t, invoke(emu, other, 'Async', '{}'), 'AccessDenied', 403);
  const all = emu.addUser({ accountId: ACCOUNT, name: 'all', actions: ['fc:InvokeFunction'] });
  const res = await fcClient(emu, all)
    .invokeFunctionWithOptions(
      'missing',
      new FcSdk.InvokeFunctionRequest({ body: Readable.from([Buffer.from('{}')]) }),
      new FcSdk.InvokeFunctionHeaders({ xFcInvocationType: 'Sync' }),
      new TeaUtil.RuntimeOptions({}),
    )
    .catch((e: unknown) => e as SdkError);
  t.like(res, { code: 'FunctionNotFound', statusCode: 404 });
});
