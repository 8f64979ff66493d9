/**
 * Rotation in place and image acceleration (issue 18): a refresh replaces a Secret's data under the same name
 * and UID (kubelets from 1.34 treat that as a rotation and do not re-verify cached images), and `acceleration:
 * true` labels the managed Secrets for ACK's on-demand image loading, writing each Secret once for it.
 */
import test from 'ava';
import { handler } from '../src/entry/fc.js';
import type { FleetReport } from '../src/fleet/report.js';
import { ACCELERATED_LABEL } from '../src/reconcile/dockerconfig.js';
import { sandbox, type Sandbox } from './support/sandbox.js';
import { writes } from './support/assert.js';
import { CLUSTER_NAMES, SECRET } from './support/fleet.js';

interface StoredSecret {
  metadata: { name: string; uid: string; resourceVersion: string; labels?: Record<string, string> };
  data: Record<string, string>;
}

const refresh = (s: Sandbox) =>
  handler(Buffer.from('{}'), { credentials: s.cloud.roleSession(s.functionRole) }, () => {}) as Promise<FleetReport>;
/** The cluster's first managed Secret (each cluster watches its own namespaces). */
const secretOf = (s: Sandbox, cluster: string) =>
  (s.cluster(cluster).kube.list('secrets') as StoredSecret[]).find((x) => x.metadata.name === SECRET)!;

test.serial('a refresh replaces the data of a Secret and keeps its name and UID, refresh after refresh', async (t) => {
  // Tokens live 10 minutes and the threshold is 15: every refresh rewrites every Secret with a new token.
  const s = await sandbox(t, {
    kubeconfigs: 'kms',
    functionConfig: true,
    tokenTtlSeconds: 600,
    editConfig: (d) => (d.defaults = { ...((d.defaults as object | undefined) ?? {}), expiringThreshold: '15m' }),
  });
  const seen: StoredSecret[] = [];
  for (let i = 0; i < 3; i++) {
    t.deepEqual((await refresh(s)).summary, { clusters: 3, ok: 3, failed: 0 });
    seen.push(structuredClone(secretOf(s, CLUSTER_NAMES.hzProd)));
  }
  t.regex(seen[0]?.metadata.uid ?? '', /^[0-9a-f-]{36}$/, 'the API server gave it a UID');
  t.is(new Set(seen.map((x) => x.metadata.uid)).size, 1, 'one UID across refreshes');
  t.true(seen.every((x) => x.metadata.name === SECRET));
  t.is(new Set(seen.map((x) => x.data['.dockerconfigjson'])).size, 3, 'new credentials each time');
  t.is(new Set(seen.map((x) => x.metadata.resourceVersion)).size, 3);
});

test.serial(
  'acceleration: true labels the managed Secrets images.alibabacloud.com/accelerated once, in place, and never rewrites them for it again',
  async (t) => {
    const s = await sandbox(t, { kubeconfigs: 'kms', functionConfig: true });
    await refresh(s);
    const before = structuredClone(secretOf(s, CLUSTER_NAMES.hzProd));
    t.is(before.metadata.labels?.[ACCELERATED_LABEL], undefined);
    t.truthy(before.metadata.uid);

    await s.editConfig((d) => {
      const c = (d.clusters as { name: string; acceleration?: boolean }[]).find((x) => x.name === CLUSTER_NAMES.hzProd);
      c!.acceleration = true;
    });
    for (const c of s.clusters) c.kube.resetRequests();
    t.deepEqual((await refresh(s)).summary, { clusters: 3, ok: 3, failed: 0 });
    const labelled = secretOf(s, CLUSTER_NAMES.hzProd);
    t.is(labelled.metadata.labels?.[ACCELERATED_LABEL], 'true');
    t.is(labelled.metadata.uid, before.metadata.uid, 'labelled in place');
    t.true(writes(s.cluster(CLUSTER_NAMES.hzProd).kube).some((w) => w.startsWith('PUT ') && w.includes('/secrets/')));
    t.deepEqual(writes(s.cluster(CLUSTER_NAMES.bjProd).kube), [], 'a cluster without the option: no write');
    t.is(secretOf(s, CLUSTER_NAMES.bjProd).metadata.labels?.[ACCELERATED_LABEL], undefined);

    for (const c of s.clusters) c.kube.resetRequests();
    await refresh(s);
    t.deepEqual(writes(s.cluster(CLUSTER_NAMES.hzProd).kube), [], 'a Secret that carries the label is not rewritten');
    t.is(secretOf(s, CLUSTER_NAMES.hzProd).metadata.labels?.[ACCELERATED_LABEL], 'true');
  },
);
