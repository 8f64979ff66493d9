/**
 * Function Compute entry (`handler(event, context)`): the timer runs the same refresh as the CLI,
 * with the function role's credentials from `context.credentials`, JSON log lines for SLS, and the
 * report as the return value. The config is `$ACR_FLEET_CONFIG`, else `fleet.yaml` in the code folder.
 *
 * The timer payload may be JSON `{"dryRun": true}` or `{"clusters": ["name", ...]}`. A timer run of a fleet with
 * more than `shardSize` clusters refreshes nothing itself: it invokes this same function asynchronously once
 * per shard (src/fleet/shard.ts) with `{"shard": {"index", "count"}, "clusters": [...]}`, and each shard
 * invocation fetches its own tokens (a payload never carries a credential).
 */
import { credentialFromFc } from '../cloud/credentials.js';
import { parsePayload, type Payload } from '../config/payload.js';
import { describeError } from '../errors.js';
import { needsDispatch } from '../fleet/dispatch.js';
import { refreshFleet } from '../fleet/run.js';
import type { FleetReport } from '../fleet/report.js';
import { createLogger, Redactor, type Logger } from '../log/logger.js';
import { continueChain, dispatch, type DispatchReport } from './fc-dispatch.js';
import {
  configFile,
  invocationDeadline,
  loadFunctionFleet,
  toStdout,
  type FcContext,
  type LineWriter,
} from './fc-context.js';
import { discoverFleet, logDiscovery } from './discovery.js';
import { routeDebugOutput } from './debug-output.js';
import { createRunDeps } from './runtime.js';

export type { DispatchReport } from './fc-dispatch.js';

/**
 * The FC handler. Throws (failing the invocation) only when the config is unusable, or when a dispatch could
 * queue no shard at all (so FC's async retry and failure destination see it).
 */
export async function handler(
  event: Buffer | string | undefined,
  context: FcContext,
  write: LineWriter = toStdout,
): Promise<FleetReport | DispatchReport> {
  const deadline = invocationDeadline(context, Date.now());
  const redactor = new Redactor();
  const redacted = <T>(value: T): T => JSON.parse(redactor.redact(JSON.stringify(value))) as T;
  redactor.add(context.credentials.accessKeySecret);
  redactor.add(context.credentials.securityToken);
  routeDebugOutput(redactor);
  const base = { requestId: context.requestId };
  const loadLog = createLogger({ format: 'json', write, redactor, base });
  const loaded = await loadFunctionFleet(configFile(), context, loadLog);
  // Checked like a config file before anything is contacted; names found by discovery are checked once it ran.
  const discovering = (loaded.discovery?.length ?? 0) > 0;
  let payload = parseFunctionPayload(event, discovering ? undefined : loaded.clusters.map((c) => c.name), loadLog);
  const shardTag = payload.shard ? { shard: `${payload.shard.index + 1}/${payload.shard.count}` } : {};
  const log = createLogger({ format: 'json', write, redactor, base: { ...base, ...shardTag } });
  const credential = credentialFromFc(context.credentials);
  const { fleet, sources } = await discoverFleet(loaded, credential);
  logDiscovery(log, sources);
  if (discovering)
    payload = parseFunctionPayload(
      event,
      fleet.clusters.map((c) => c.name),
      log,
    );
  if (!payload.clusters && needsDispatch(fleet)) {
    const dispatched = await dispatch(fleet, context, payload.dryRun ?? false, log);
    return redacted(dispatched);
  }
  const deps = createRunDeps({
    fleet,
    credential,
    log,
    redactor,
    allowFileKubeconfig: false,
  });
  deps.onCluster = (r) =>
    log[r.status === 'ok' ? 'info' : 'error']('cluster refreshed', {
      event: 'cluster',
      cluster: r.name,
      status: r.status,
      created: r.secrets.created,
      updated: r.secrets.updated,
      unchanged: r.secrets.unchanged,
      deleted: r.secrets.deleted,
      patched: r.serviceAccounts.patched,
      requests: r.requests,
      retries: r.retries,
      credentialExpiresAt: r.credentialExpiresAt,
      error: r.error,
    });
  const report = await refreshFleet(fleet, deps, {
    dryRun: payload.dryRun ?? false,
    ...(payload.clusters ? { only: payload.clusters } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
  });
  // A dry run's plan: one line per change, queryable in SLS like any other event.
  for (const c of report.clusters) {
    for (const e of c.plan ?? []) {
      log.info('plan', {
        event: 'plan',
        cluster: c.name,
        action: e.action,
        kind: e.kind,
        namespace: e.namespace,
        name: e.name,
        reason: e.reason,
        expiresAt: e.expiresAt,
      });
    }
  }
  log.info('refresh done', {
    event: 'summary',
    clusters: report.summary.clusters,
    ok: report.summary.ok,
    failed: report.summary.failed,
    durationMs: report.durationMs,
  });
  if (sources.length) report.discovery = sources;
  // A dispatched invocation queues the next one of its chain (src/fleet/dispatch.ts), whatever its clusters did.
  if (payload.shard && payload.clusters)
    await continueChain(fleet, context, payload.clusters, payload.dryRun ?? false, log);
  // Round-trip through the redactor (as the dispatch report above): the report is returned to FC, which may log it.
  return redacted(report);
}

/** The payload, or one `payload-invalid` line and a throw (FC records the failure). */
function parseFunctionPayload(
  event: Buffer | string | undefined,
  clusterNames: readonly string[] | undefined,
  log: Logger,
): Payload {
  try {
    return parsePayload(event, clusterNames);
  } catch (err) {
    log.error(describeError(err), { event: 'payload-invalid' });
    throw err;
  }
}
