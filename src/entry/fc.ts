/**
 * Function Compute entry (`handler(event, context)`): the timer runs the same refresh as the CLI,
 * with the function role's credentials from `context.credentials`, JSON log lines for SLS, and the
 * report as the return value. The config is `$ACR_FLEET_CONFIG`, else `fleet.yaml` in the code folder.
 *
 * The timer payload may be JSON `{"dryRun": true}` or `{"clusters": ["name", ...]}`.
 */
import path from 'node:path';
import { loadFleet } from '../config/load.js';
import { credentialFromFc, type FcCredentials } from '../cloud/credentials.js';
import { refreshFleet } from '../fleet/run.js';
import type { FleetReport } from '../fleet/report.js';
import { createLogger, Redactor } from '../log/logger.js';
import { createRunDeps } from './runtime.js';

/** The parts of the FC 3.0 context acr-fleet reads. */
export interface FcContext {
  requestId?: string;
  credentials: FcCredentials;
  region?: string;
  function?: { name?: string };
}

/** Writes one log line; FC ships stdout to the function's SLS logstore. */
export type LineWriter = (line: string) => void;

interface Payload {
  dryRun?: boolean;
  clusters?: string[];
}

/** The FC handler. Throws (failing the invocation) only when the config is unusable. */
export async function handler(event: Buffer | string | undefined, context: FcContext, write: LineWriter = (l) => process.stdout.write(`${l}\n`)): Promise<FleetReport> {
  const redactor = new Redactor();
  redactor.add(context.credentials.accessKeySecret);
  redactor.add(context.credentials.securityToken);
  const log = createLogger({ format: 'json', write, redactor, base: { requestId: context.requestId } });
  const payload = parsePayload(event);
  const file = process.env.ACR_FLEET_CONFIG ?? path.join(process.env.FC_FUNC_CODE_PATH ?? process.cwd(), 'fleet.yaml');
  const env = { ...process.env, FC_REGION: process.env.FC_REGION ?? context.region };
  let fleet;
  try {
    fleet = await loadFleet({ file, env });
  } catch (err) {
    log.error(err instanceof Error ? err.message.replaceAll('\n', '; ') : String(err), { event: 'config-invalid' });
    throw err;
  }
  const deps = createRunDeps({ fleet, credential: credentialFromFc(context.credentials), log, redactor, allowFileKubeconfig: false });
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
  const report = await refreshFleet(fleet, deps, { dryRun: payload.dryRun ?? false, ...(payload.clusters ? { only: payload.clusters } : {}) });
  // A dry run's plan: one line per change, queryable in SLS like any other event.
  for (const c of report.clusters) {
    for (const e of c.plan ?? []) {
      log.info('plan', { event: 'plan', cluster: c.name, action: e.action, kind: e.kind, namespace: e.namespace, name: e.name, reason: e.reason, expiresAt: e.expiresAt });
    }
  }
  log.info('refresh done', { event: 'summary', clusters: report.summary.clusters, ok: report.summary.ok, failed: report.summary.failed, durationMs: report.durationMs });
  // Round-trip through the redactor: the report is returned to FC, which may log it.
  return JSON.parse(redactor.redact(JSON.stringify(report))) as FleetReport;
}

/** The timer event is `{"triggerTime","triggerName","payload"}`; payload is the trigger's string. */
function parsePayload(event: Buffer | string | undefined): Payload {
  const text = event === undefined ? '' : event.toString();
  if (!text.trim()) return {};
  try {
    const outer = JSON.parse(text) as { payload?: unknown } & Payload;
    const inner = typeof outer.payload === 'string' && outer.payload.trim().startsWith('{') ? (JSON.parse(outer.payload) as Payload) : outer;
    return {
      ...(typeof inner.dryRun === 'boolean' ? { dryRun: inner.dryRun } : {}),
      ...(Array.isArray(inner.clusters) ? { clusters: inner.clusters.filter((c): c is string => typeof c === 'string') } : {}),
    };
  } catch {
    return {};
  }
}

// The admission webhook is a second export of the same bundle (handler `index.webhook`).
export { webhook } from './webhook.js';
