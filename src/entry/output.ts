/** What people read: the summary table of a refresh and one progress line per cluster. */
import type { ClusterReport, FleetReport } from '../fleet/report.js';

/** Left-aligned text columns; numbers right-aligned. */
export function table(rows: (string | number)[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, String(cell).length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (typeof cell === 'number' ? String(cell).padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The human summary of a refresh. */
export function formatReport(report: FleetReport): string {
  const out: string[] = [];
  if (report.dryRun) out.push('Dry run: nothing was written. Counts say what a refresh would do.', '');
  out.push(
    table([
      ['CLUSTER', 'STATUS', 'NAMESPACES', 'CREATED', 'UPDATED', 'UNCHANGED', 'DELETED', 'SA PATCHED', 'SA UNCHANGED', 'REQUESTS', 'RETRIES'],
      ...report.clusters.map((c) => [
        c.name,
        c.status,
        c.namespaces,
        c.secrets.created,
        c.secrets.updated,
        c.secrets.unchanged,
        c.secrets.deleted,
        c.serviceAccounts.patched,
        c.serviceAccounts.unchanged,
        c.requests,
        c.retries,
      ]),
    ]),
  );
  const notes = report.clusters.flatMap(notesOf);
  if (notes.length) out.push('', ...notes);
  if (report.tokens.length) {
    out.push('', table([['REGISTRY', 'TOKEN EXPIRES', 'RETRIES', 'DOMAINS'], ...report.tokens.map((t) => [t.registry, t.expiresAt, t.retries, t.domains.join(', ')])]));
  }
  const { clusters, ok, failed } = report.summary;
  out.push('', `${clusters} cluster(s): ${ok} ok, ${failed} failed (${report.durationMs} ms)`);
  return out.join('\n');
}

function notesOf(c: ClusterReport): string[] {
  const notes = (c.errors ?? (c.error ? [c.error] : [])).map((e) => `error: ${e}`);
  for (const x of c.conflicts) notes.push(`conflict: cluster ${c.name}: namespace ${x.namespace}: Secret ${x.name} exists without label app.kubernetes.io/managed-by=acr-fleet; left alone`);
  for (const s of c.skipped) notes.push(`skipped: cluster ${c.name}: namespace ${s.namespace}: ${s.reason}`);
  return notes;
}

/** One progress line as a cluster finishes. */
export function progressLine(c: ClusterReport, done: number, total: number): string {
  const detail = c.status === 'ok' ? `${c.secrets.created + c.secrets.updated + c.secrets.deleted} secret write(s), ${c.requests} request(s)` : (c.error ?? 'failed');
  return `[${done}/${total}] ${c.name}: ${c.status} (${detail}, ${c.durationMs} ms)`;
}
