/**
 * Issue 18 figures: a discovered fleet of CLUSTERS ACK clusters (default 10,000) over three regions, listed through
 * the Alibaba emulator's paged DescribeClustersV1 (100 a page) as the function lists them (one listing per region,
 * cached for the run), then planned for dispatch within FC's 128 KB async payload. Prints listing time, pages,
 * dispatch planning time, invocations and the largest payload. The emulator's latency is LATENCY_MS per request.
 */
import { performance } from 'node:perf_hooks';
import { credentialFromEnv } from '../src/cloud/credentials.js';
import { parseFleet } from '../src/config/load.js';
import { discoverFleet } from '../src/entry/discovery.js';
import { MAX_PAYLOAD_BYTES, payloadOf, planDispatch } from '../src/fleet/dispatch.js';
import { AlibabaEmulator } from '../test/emulators/alibaba/index.js';

const CLUSTERS = Number(process.env.CLUSTERS ?? 10_000);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 20);
const REGIONS = ['cn-hangzhou', 'cn-beijing', 'cn-shanghai'];
const ACCOUNT = '1234567890123456';

const cloud = await AlibabaEmulator.start({ regions: REGIONS, latencyMs: LATENCY_MS });
try {
  cloud.createAccount(ACCOUNT);
  const user = cloud.addUser({ accountId: ACCOUNT, name: 'bench', actions: ['cs:GetClusters'] });
  for (let i = 0; i < CLUSTERS; i++) {
    const region = REGIONS[i % REGIONS.length] ?? 'cn-hangzhou';
    cloud.addAckCluster({
      accountId: ACCOUNT,
      region,
      clusterId: `c${i.toString(16).padStart(31, '0')}`,
      name: `shop-${i}`,
      // One cluster in ten is not tagged for acr-fleet: the listing still pages over it.
      tags: i % 10 === 9 ? { team: 'other' } : { 'acr-fleet': 'enabled' },
    });
  }
  const text = [
    'regionId: cn-hangzhou',
    'shardSize: 500',
    'registries:',
    '  - { name: pe, regionId: cn-hangzhou }',
    'discovery:',
    `  - ack: { regions: [${REGIONS.join(', ')}], tags: { acr-fleet: enabled }, settings: { registries: [pe] } }`,
  ].join('\n');
  const fleet = parseFleet(text, { file: 'fleet.yaml', env: {} });
  const configured = { ...fleet, endpoints: cloud.endpointsConfig() };
  const credential = credentialFromEnv({
    ALIBABA_CLOUD_ACCESS_KEY_ID: user.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: user.accessKeySecret,
  });

  const before = cloud.requests.length;
  let started = performance.now();
  const { fleet: discovered, sources } = await discoverFleet(configured, credential);
  const listingMs = performance.now() - started;
  const pages = cloud.requests.length - before;
  const errors = sources.flatMap((s) => s.errors ?? []);
  if (errors.length) throw new Error(errors.join('; '));

  started = performance.now();
  const plan = planDispatch(discovered, { name: 'acr-fleet', region: 'cn-hangzhou' });
  const planMs = performance.now() - started;
  const largest = Math.max(...plan.map((p) => Buffer.byteLength(payloadOf(p.shard, p.clusters, false))));

  console.log(
    [
      `discovery: ${CLUSTERS} ACK clusters in ${REGIONS.length} regions (emulator latency ${LATENCY_MS} ms):`,
      `  listing ${listingMs.toFixed(0)} ms, ${pages} DescribeClustersV1 pages, ${discovered.clusters.length} tagged clusters found`,
      `  dispatch plan ${planMs.toFixed(0)} ms: ${plan.length} invocations, largest payload ${largest} bytes (limit ${MAX_PAYLOAD_BYTES})`,
    ].join('\n'),
  );
} finally {
  await cloud.close();
}
