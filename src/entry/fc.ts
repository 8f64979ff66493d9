/**
 * Function Compute entry (`handler(event, context)`): the timer runs the same refresh as the CLI,
 * with the function role's credentials from `context.credentials`, JSON log lines for SLS, and the
 * report as the return value. The config is `$ACR_FLEET_CONFIG`, else `fleet.yaml` in the code folder.
 *
 * The timer payload may be JSON `{"dryRun": true}` or `{"clusters": ["name", ...]}`, validated like a config file
 * (src/config/payload.ts): a payload it does not understand fails the invocation (event `payload-invalid`)
 * before anything is contacted, so a quoting slip never turns into a writing refresh. A timer run of a fleet with
 * more than `shardSize` clusters refreshes nothing itself: it invokes this same function asynchronously once
 * per shard (src/fleet/shard.ts) with `{"shard": {"index", "count"}, "clusters": [...]}`, and each shard
 * invocation fetches its own tokens (a payload never carries a credential).
 */
import pLimit from 'p-limit';
import { credentialFromFc } from '../cloud/credentials.js';
import type { FunctionRef } from '../cloud/fc.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { parsePayload, type Payload } from '../config/payload.js';
import type { Fleet } from '../config/resolve.js';
import { AcrFleetError, describeError } from '../errors.js';
import { refreshFleet } from '../fleet/run.js';
import type { FleetReport } from '../fleet/report.js';
import { shardClusters, shardPayload } from '../fleet/shard.js';
import type { Logger } from '../log/logger.js';
import { createLogger, Redactor } from '../log/logger.js';
import { configFile, loadFunctionFleet, toStdout, type FcContext, type LineWriter } from './fc-context.js';
import { createRunDeps } from './runtime.js';

/** What a dispatching timer run returns: one entry per shard invocation queued (or refused). */
export interface DispatchReport {
  dryRun: boolean;
  dispatch: { shards: number; clusters: number; queued: number; failed: number };
  invocations: { shard: number; clusters: number; requestId?: string; error?: string }[];
}

/** Shard invocations queued at once: each is one small request; FC accepts them in any order. */
const DISPATCH_CONCURRENCY = 8;

/**
 * The FC handler. Throws (failing the invocation) only when the config or the payload is unusable, or when a
 * dispatch could queue no shard at all (so FC's async retry and failure destination see it).
 */
export async function handler(
  event: Buffer | string | undefined,
  context: FcContext,
  write: LineWriter = toStdout,
): Promise<FleetReport | DispatchReport> {
  const redactor = new Redactor();
  const redacted = <T>(value: T): T => JSON.parse(redactor.redact(JSON.stringify(value))) as T;
  redactor.add(context.credentials.accessKeySecret);
  redactor.add(context.credentials.securityToken);
  const base = { requestId: context.requestId };
  const loadLog = createLogger({ format: 'json', write, redactor, base });
  const fleet = await loadFunctionFleet(configFile(), context, loadLog);
  const payload = parseFunctionPayload(
    event,
    fleet.clusters.map((c) => c.name),
    loadLog,
  );
  const shardTag = payload.shard ? { shard: `${payload.shard.index + 1}/${payload.shard.count}` } : {};
  const log = createLogger({ format: 'json', write, redactor, base: { ...base, ...shardTag } });
  if (!payload.clusters && fleet.clusters.length > fleet.shardSize) {
    const dispatched = await dispatch(fleet, context, payload.dryRun ?? false, log);
    return redacted(dispatched);
  }
  const deps = createRunDeps({
    fleet,
    credential: credentialFromFc(context.credentials),
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
  // Round-trip through the redactor (as the dispatch report above): the report is returned to FC, which may log it.
  return redacted(report);
}

/** Invokes this function once per shard, asynchronously; the shards refresh, this run only queues them. */
async function dispatch(fleet: Fleet, context: FcContext, dryRun: boolean, log: Logger): Promise<DispatchReport> {
  const shards = shardClusters(
    fleet.clusters.map((c) => c.name),
    fleet.shardSize,
  );
  const fn = functionRef(context);
  // Loaded only by a dispatching run: the FC SDK's ~600 model classes cost every other run nothing.
  const { FcApi } = await import('../cloud/fc.js');
  const fc = new FcApi(
    new SdkOpenApiCaller({ endpoints: fleet.endpoints, credential: credentialFromFc(context.credentials) }),
  );
  const limit = pLimit(DISPATCH_CONCURRENCY);
  const invocations = await Promise.all(
    shards.map((shard) =>
      limit(async (): Promise<DispatchReport['invocations'][number]> => {
        const entry = { shard: shard.index, clusters: shard.clusters.length };
        try {
          return { ...entry, requestId: await fc.invokeAsync(fn, shardPayload(shard, dryRun)) };
        } catch (err) {
          const error = `shard ${shard.index + 1}/${shard.count}: ${describeError(err)}`;
          log.error(error, { event: 'dispatch-failed', shard: `${shard.index + 1}/${shard.count}` });
          return { ...entry, error };
        }
      }),
    ),
  );
  const failed = invocations.filter((i) => i.error !== undefined).length;
  const summary = { shards: shards.length, clusters: fleet.clusters.length, queued: shards.length - failed, failed };
  log[failed ? 'error' : 'info']('shards dispatched', {
    event: 'dispatch',
    ...summary,
    shardSize: fleet.shardSize,
    function: fn.name,
  });
  if (failed === shards.length)
    throw new AcrFleetError(`dispatch: no shard could be queued (${invocations[0]?.error ?? 'no shards'})`);
  return { dryRun, dispatch: summary, invocations };
}

/** This function, as FC describes it to the running code (context, else the runtime's environment). */
function functionRef(context: FcContext): FunctionRef {
  const name = context.function?.name ?? process.env.FC_FUNCTION_NAME;
  const accountId = context.accountId ?? process.env.FC_ACCOUNT_ID;
  const region = context.region ?? process.env.FC_REGION;
  if (!name || !accountId || !region)
    throw new AcrFleetError(
      'dispatch: the function name, account id and region are unknown (context.function.name, context.accountId, context.region)',
    );
  return { name, accountId, region, ...(context.function?.qualifier ? { qualifier: context.function.qualifier } : {}) };
}

/** The payload, or one `payload-invalid` line and a throw: nothing has been contacted yet. */
function parseFunctionPayload(event: Buffer | string | undefined, clusterNames: string[], log: Logger): Payload {
  try {
    return parsePayload(event, clusterNames);
  } catch (err) {
    log.error(describeError(err), { event: 'payload-invalid' });
    throw err;
  }
}
