/** Readers of what acr-fleet prints: the `--json` report and JSON log lines. */
import type { FleetReport } from '../../src/fleet/report.js';

/** The report `refresh --json` prints (and the FC handler returns). */
export function readReport(stdout: string): FleetReport {
  return JSON.parse(stdout) as FleetReport;
}

/** One JSON log line: the fields every line has, and the event's own. */
export interface LogLine {
  level: string;
  msg: string;
  time?: string;
  requestId?: string;
  event?: string;
  cluster?: string;
  [field: string]: unknown;
}

/** JSON log lines, from a stream's text (blank lines ignored) or from lines a logger collected. */
export function logLines(output: string | readonly string[]): LogLine[] {
  const lines = typeof output === 'string' ? output.split('\n') : output;
  return lines.filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as LogLine);
}
