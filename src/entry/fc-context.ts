/** What Function Compute hands both handlers (`index.handler`, `index.webhook`): types only, no code. */
import type { FcCredentials } from '../cloud/credentials.js';

/** The parts of the FC 3.0 context acr-fleet reads. */
export interface FcContext {
  requestId?: string;
  credentials: FcCredentials;
  region?: string;
  accountId?: string;
  function?: { name?: string; qualifier?: string };
}

/** Writes one log line; FC ships stdout to the function's SLS logstore. */
export type LineWriter = (line: string) => void;
