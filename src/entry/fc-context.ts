/**
 * What both Function Compute handlers (`index.handler`, `index.webhook`) share: the context FC hands them,
 * where their log lines go, and where the fleet config is and how it is loaded.
 */
import path from 'node:path';
import type { FcCredentials } from '../cloud/credentials.js';
import { loadFleet } from '../config/load.js';
import type { Fleet } from '../config/resolve.js';
import type { Logger } from '../log/logger.js';

/** The parts of the FC 3.0 context acr-fleet reads. */
export interface FcContext {
  requestId?: string;
  credentials: FcCredentials;
  region?: string;
  accountId?: string;
  /** FC 3.0 Node.js: `timeout` is the function's timeout in seconds ("Context", FC 3.0 Node.js runtime). */
  function?: { name?: string; qualifier?: string; timeout?: number };
}

/** Time kept back from FC's timeout for the summary, the report and the log flush. */
const SUMMARY_MARGIN_MS = 10_000;

/**
 * When the invocation must have its answer (epoch ms): FC gives the function's timeout, not a deadline, so
 * it is counted from `startedAt` (the handler's start), less a margin for the summary. Undefined when FC
 * does not say.
 */
export function invocationDeadline(context: FcContext, startedAt: number): number | undefined {
  const seconds = context.function?.timeout;
  if (typeof seconds !== 'number' || !(seconds > 0)) return undefined;
  const ms = seconds * 1000;
  return startedAt + ms - Math.min(SUMMARY_MARGIN_MS, ms / 10);
}

/** Writes one log line; FC ships stdout to the function's SLS logstore. */
export type LineWriter = (line: string) => void;

export const toStdout: LineWriter = (l) => process.stdout.write(`${l}\n`);

/** The config: `$ACR_FLEET_CONFIG`, else `fleet.yaml` in the code folder. */
export function configFile(): string {
  return process.env.ACR_FLEET_CONFIG ?? path.join(process.env.FC_FUNC_CODE_PATH ?? process.cwd(), 'fleet.yaml');
}

/** Loads the fleet; an unusable config is logged as one line (`config-invalid`) and thrown. */
export async function loadFunctionFleet(file: string, context: FcContext, log: Logger): Promise<Fleet> {
  try {
    return await loadFleet({ file, env: { ...process.env, FC_REGION: process.env.FC_REGION ?? context.region } });
  } catch (err) {
    log.error(err instanceof Error ? err.message.replaceAll('\n', '; ') : String(err), { event: 'config-invalid' });
    throw err;
  }
}
