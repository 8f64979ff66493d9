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
import { needsDispatch } from '../fleet/dispatch.js';
import { refreshFleet } from '../fleet/run.js';
import type { FleetReport } from '../fleet/report.js';
import { createLogger, Redactor } from '../log/logger.js';
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

interface Payload {
  dryRun?: boolean;
  clusters?: string[];
  shard?: { index: number; count: number };
}

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
  const payload = parsePayload(event);
  const shardTag = payload.shard ? { shard: `${payload.shard.index + 1}/${payload.shard.count}` } : {};
  const log = createLogger({ format: 'json', write, redactor, base: { requestId: context.requestId, ...shardTag } });
  const credential = credentialFromFc(context.credentials);
  const { fleet, sources } = await discoverFleet(await loadFunctionFleet(configFile(), context, log), credential);
  logDiscovery(log, sources);
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

function isShard(v: unknown): v is { index: number; count: number } {
  const s = v as { index?: unknown; count?: unknown } | undefined;
  return !!s && Number.isInteger(s.index) && Number.isInteger(s.count);
}

/** The timer event is `{"triggerTime","triggerName","payload"}`; payload is the trigger's string. */
function parsePayload(event: Buffer | string | undefined): Payload {
  const text = event === undefined ? '' : event.toString();
  if (!text.trim()) return {};
  try {
    const outer = JSON.parse(text) as { payload?: unknown } & Payload;
    const inner =
      typeof outer.payload === 'string' && outer.payload.trim().startsWith('{')
        ? (JSON.parse(outer.payload) as Payload)
        : outer;
    return {
      ...(typeof inner.dryRun === 'boolean' ? { dryRun: inner.dryRun } : {}),
      ...(Array.isArray(inner.clusters)
        ? { clusters: inner.clusters.filter((c): c is string => typeof c === 'string') }
        : {}),
      ...(isShard(inner.shard) ? { shard: inner.shard } : {}),
    };
  } catch {
    return {};
  }
}
