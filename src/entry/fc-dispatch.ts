/**
 * The I/O half of src/fleet/dispatch.ts: the FC client, this function's identity, and the log lines of a
 * dispatching timer run (which queues the first invocation of each chain) and of a dispatched invocation
 * (which, done, queues the next one of its chain).
 */
import { credentialFromFc } from '../cloud/credentials.js';
import type { FcApi, FunctionRef } from '../cloud/fc.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { DISPATCH_DEFAULTS } from '../config/networks.js';
import type { Fleet } from '../config/resolve.js';
import { AcrFleetError, CloudError, describeError } from '../errors.js';
import {
  mainFunctionName,
  payloadOf,
  planDispatch,
  positionOf,
  startChain,
  type PlannedInvocation,
  type Queued,
} from '../fleet/dispatch.js';
import type { Logger } from '../log/logger.js';
import type { FcContext } from './fc-context.js';

/** What a dispatching timer run returns: one entry per invocation it tried to queue. */
export interface DispatchReport {
  dryRun: boolean;
  /** `shards`: invocations planned; `queued`/`failed`: of those this run tried; `chained`: left to the chains. */
  dispatch: { shards: number; clusters: number; queued: number; failed: number; chained?: number };
  invocations: { shard: number; clusters: number; network?: string; requestId?: string; error?: string }[];
}

const README = 'README, "Clusters in many networks"';

/** Why an invocation could not be queued, naming the network and its function when one is missing. */
function describe(err: unknown, p: PlannedInvocation): string {
  const shard = `shard ${p.shard.index + 1}/${p.shard.count}`;
  if (p.target.network === undefined) return `${shard}: ${describeError(err)}`;
  if (err instanceof CloudError && err.code === 'FunctionNotFound')
    return `network ${p.target.network}: function ${p.target.name} not found; deploy it (${README})`;
  return `network ${p.target.network}: ${shard}: ${describeError(err)}`;
}

/** This function, as FC describes it to the running code (context, else the runtime's environment). */
export function functionRef(context: FcContext): FunctionRef {
  const name = context.function?.name ?? process.env.FC_FUNCTION_NAME;
  const accountId = context.accountId ?? process.env.FC_ACCOUNT_ID;
  const region = context.region ?? process.env.FC_REGION;
  if (!name || !accountId || !region)
    throw new AcrFleetError(
      'dispatch: the function name, account id and region are unknown (context.function.name, context.accountId, context.region)',
    );
  return { name, accountId, region, ...(context.function?.qualifier ? { qualifier: context.function.qualifier } : {}) };
}

/** The plan and a queuing function, as seen from any function of the deploy. */
function chains(fleet: Fleet, context: FcContext, dryRun: boolean) {
  const own = functionRef(context);
  const networks = Object.keys(fleet.networks ?? {});
  const isMain = mainFunctionName(own.name, networks) === own.name;
  // A network function may live in another region: the generated resource names the main one's.
  const main = {
    name: mainFunctionName(own.name, networks),
    region: isMain ? own.region : (process.env.ACR_FLEET_MAIN_REGION ?? own.region),
  };
  const plan = planDispatch(fleet, main, dryRun);
  let fc: FcApi | undefined;
  const invoke = async (p: PlannedInvocation) => {
    // Loaded only when something is queued: the FC SDK's ~600 model classes cost every other run nothing.
    fc ??= new (await import('../cloud/fc.js')).FcApi(
      new SdkOpenApiCaller({ endpoints: fleet.endpoints, credential: credentialFromFc(context.credentials) }),
    );
    return fc.invokeAsync(
      { name: p.target.name, region: p.target.region, accountId: own.accountId },
      payloadOf(p.shard, p.clusters, dryRun),
    );
  };
  const step = Math.max(1, fleet.maxConcurrentInvocations ?? DISPATCH_DEFAULTS.maxConcurrentInvocations);
  const start = (position: number) => startChain(plan, position, step, invoke, describe);
  return { plan, step, start, main };
}

/** Logs each attempt that failed: one line for the invocation, and one per cluster it leaves unrefreshed. */
function logFailures(plan: readonly PlannedInvocation[], tried: readonly Queued[], log: Logger): void {
  for (const q of tried) {
    const p = plan[q.position];
    if (!q.error || !p) continue;
    const shard = `${p.shard.index + 1}/${p.shard.count}`;
    log.error(q.error, { event: 'dispatch-failed', shard, ...(p.target.network ? { network: p.target.network } : {}) });
    if (p.target.network === undefined) continue;
    for (const cluster of p.clusters)
      log.error(`cluster ${cluster}: ${q.error}`, { event: 'cluster', cluster, status: 'failed', error: q.error });
  }
}

/** A timer run: queues the first invocation of each chain; the chains refresh, this run only queues. */
export async function dispatch(
  fleet: Fleet,
  context: FcContext,
  dryRun: boolean,
  log: Logger,
): Promise<DispatchReport> {
  const { plan, step, start, main } = chains(fleet, context, dryRun);
  const firsts = Array.from({ length: Math.min(step, plan.length) }, (_, i) => i);
  const tried = (await Promise.all(firsts.map(start))).flat();
  logFailures(plan, tried, log);
  const failed = tried.filter((q) => q.error !== undefined).length;
  const queued = tried.length - failed;
  const chained = plan.length - tried.length;
  const summary = {
    shards: plan.length,
    clusters: fleet.clusters.length,
    queued,
    failed,
    ...(chained ? { chained } : {}),
  };
  log[failed ? 'error' : 'info']('shards dispatched', {
    event: 'dispatch',
    ...summary,
    shardSize: fleet.shardSize,
    maxConcurrentInvocations: step,
    function: main.name,
  });
  if (queued === 0) throw new AcrFleetError(`dispatch: no shard could be queued (${tried[0]?.error ?? 'no shards'})`);
  const invocations = tried.map((q) => {
    const p = plan[q.position];
    return {
      shard: p?.shard.index ?? 0,
      clusters: p?.clusters.length ?? 0,
      ...(p?.target.network ? { network: p.target.network } : {}),
      ...(q.requestId !== undefined ? { requestId: q.requestId } : {}),
      ...(q.error !== undefined ? { error: q.error } : {}),
    };
  });
  return { dryRun, dispatch: summary, invocations };
}

/**
 * A dispatched invocation is done: queue the next one of its chain. A cluster list that is not a planned
 * invocation (a manual `{"clusters": [...]}`) starts nothing.
 */
export async function continueChain(
  fleet: Fleet,
  context: FcContext,
  clusters: readonly string[],
  dryRun: boolean,
  log: Logger,
): Promise<void> {
  const { plan, step, start } = chains(fleet, context, dryRun);
  const position = positionOf(plan, clusters);
  if (position < 0 || plan[position]?.clusters.length !== clusters.length) return;
  if (position + step >= plan.length) return;
  const tried = await start(position + step);
  logFailures(plan, tried, log);
}
