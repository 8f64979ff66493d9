/**
 * What people read: the summary table of a refresh, the plan of a dry run, progress while it runs,
 * and colour when (and only when) a terminal shows it.
 */
import type { ClusterReport, FleetReport } from '../fleet/report.js';
import type { PlanEntry } from '../reconcile/explain.js';

/** Paints text; the plain style returns it unchanged. */
export interface Style {
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
  bold(text: string): string;
}

const sgr = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;
export const PLAIN: Style = { green: (t) => t, yellow: (t) => t, red: (t) => t, bold: (t) => t };
const COLOUR: Style = { green: sgr(32, 39), yellow: sgr(33, 39), red: sgr(31, 39), bold: sgr(1, 22) };

/**
 * Colour only on a terminal, never when `NO_COLOR` is set to anything but the empty string
 * (https://no-color.org), nor on a `dumb` terminal.
 */
export function styleFor(isTTY: boolean, env: Record<string, string | undefined>): Style {
  return isTTY && !env.NO_COLOR && env.TERM !== 'dumb' ? COLOUR : PLAIN;
}

/** Left-aligned text columns; numbers right-aligned. `paint` colours a cell after padding. */
export function table(
  rows: (string | number)[][],
  paint?: (padded: string, row: number, col: number) => string,
): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, String(cell).length)));
  return rows
    .map((row, r) =>
      row
        .map((cell, i) => {
          const padded = typeof cell === 'number' ? String(cell).padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0);
          return paint ? paint(padded, r, i) : padded;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The human summary of a refresh; a dry run prints its plan instead of the table. */
export function formatReport(report: FleetReport, style: Style = PLAIN): string {
  if (report.dryRun) return formatPlan(report, style);
  const status = (s: string) => (s.startsWith('ok') ? style.green(s) : style.red(s));
  const out: string[] = [
    table(
      [
        [
          'CLUSTER',
          'STATUS',
          'NAMESPACES',
          'CREATED',
          'UPDATED',
          'UNCHANGED',
          'DELETED',
          'SA PATCHED',
          'SA UNCHANGED',
          'REQUESTS',
          'RETRIES',
        ],
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
      ],
      (cell, row, col) => (row > 0 && col === 1 ? status(cell) : cell),
    ),
  ];
  const notes = report.clusters.flatMap((c) => notesOf(c, style));
  if (notes.length) out.push('', ...notes);
  if (report.tokens.length) {
    out.push(
      '',
      table([
        ['REGISTRY', 'TOKEN EXPIRES', 'RETRIES', 'DOMAINS'],
        ...report.tokens.map((t) => [t.registry, t.expiresAt, t.retries, t.domains.join(', ')]),
      ]),
    );
  }
  out.push('', summaryLine(report, style));
  return out.join('\n');
}

function summaryLine(report: FleetReport, style: Style): string {
  const { clusters, ok, failed } = report.summary;
  return `${clusters} cluster(s): ${ok} ok, ${failed ? style.red(`${failed} failed`) : '0 failed'} (${report.durationMs} ms)`;
}

function notesOf(c: ClusterReport, style: Style): string[] {
  const notes = errorsOf(c).map((e) => style.red(`error: ${e}`));
  for (const x of c.conflicts)
    notes.push(
      style.yellow(
        `conflict: cluster ${c.name}: namespace ${x.namespace}: Secret ${x.name} exists without label app.kubernetes.io/managed-by=acr-fleet; left alone`,
      ),
    );
  for (const s of c.skipped) notes.push(`skipped: cluster ${c.name}: namespace ${s.namespace}: ${s.reason}`);
  return notes;
}

const errorsOf = (c: ClusterReport) => (c.error ? [c.error] : []);

const SYMBOL: Record<PlanEntry['action'], [string, keyof Omit<Style, 'bold'> | undefined]> = {
  create: ['+', 'green'],
  update: ['~', 'yellow'],
  patch: ['~', 'yellow'],
  delete: ['-', 'red'],
  conflict: ['!', 'red'],
  skip: ['=', undefined],
};

/** One plan line: `+ create Secret team-a/acr-credential-fleet (missing)`. */
export function planLine(e: PlanEntry, style: Style = PLAIN): string {
  const [symbol, colour] = SYMBOL[e.action];
  const what = e.kind === 'Namespace' ? `namespace ${e.name}` : `${e.kind} ${e.namespace}/${e.name}`;
  const text = `${symbol} ${e.action} ${what} (${e.reason})`;
  return colour ? style[colour](text) : text;
}

/** A dry run, like `terraform plan`: per cluster, each change and why; then the totals. */
function formatPlan(report: FleetReport, style: Style): string {
  const out = ['Dry run: nothing was written. A refresh would:', ''];
  const total = { create: 0, update: 0, delete: 0, patch: 0, conflict: 0, skip: 0 };
  for (const c of report.clusters) {
    const entries = c.plan ?? [];
    for (const e of entries) total[e.action]++;
    if (c.status === 'failed') {
      out.push(
        style.bold(`${c.name}: `) + style.red('failed'),
        ...errorsOf(c).map((e) => `  ${style.red(`error: ${e}`)}`),
      );
    } else if (!entries.length) {
      out.push(`${style.bold(c.name)}: no changes (${c.secrets.unchanged} Secret(s) up to date)`);
    } else {
      out.push(style.bold(c.name), ...entries.map((e) => `  ${planLine(e, style)}`));
    }
  }
  out.push(
    '',
    `Plan: ${total.create} to create, ${total.update} to update, ${total.delete} to delete, ${total.patch} ServiceAccount(s) to patch; ${total.conflict} conflict(s), ${total.skip} namespace(s) skipped.`,
    summaryLine(report, style),
  );
  return out.join('\n');
}

/** One progress line as a cluster finishes (when stderr is not a terminal). */
export function progressLine(c: ClusterReport, done: number, total: number): string {
  const writes = c.plan
    ? `${c.plan.length} planned change(s)`
    : `${c.secrets.created + c.secrets.updated + c.secrets.deleted} secret write(s)`;
  // A failure's error is printed once, in the report; the progress line only says which cluster failed.
  const detail = c.status === 'ok' ? `${writes}, ${c.requests} request(s), ` : '';
  return `[${done}/${total}] ${c.name}: ${c.status} (${detail}${c.durationMs} ms)`;
}

/**
 * Progress on stderr. On a terminal: one live line (done/total, failures so far) rewritten in place,
 * with failures and log lines printed above it and the line cleared at the end. Elsewhere: one plain
 * line per finished cluster. Everything it writes goes through `write`, which redacts.
 */
export class Progress {
  private done = 0;
  private failed = 0;
  private shown = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly live: boolean,
    private readonly total: number,
    private readonly style: Style = PLAIN,
  ) {}

  /** Draws the live line before the first cluster finishes. */
  start(): void {
    if (this.live) this.draw();
  }

  /** A line that stays (a log line): above the live line on a terminal. */
  line(text: string): void {
    const safe = terminalSafe(text);
    if (!this.live) return this.write(`${safe}\n`);
    this.clear();
    this.write(`${safe}\n`);
    this.draw();
  }

  cluster(report: ClusterReport): void {
    this.done++;
    if (report.status === 'failed') this.failed++;
    if (!this.live) return this.write(`${terminalSafe(progressLine(report, this.done, this.total))}\n`);
    if (report.status === 'failed') this.line(this.style.red(progressLine(report, this.done, this.total)));
    else this.draw();
  }

  /** Clears the live line, leaving the terminal as it was. */
  end(): void {
    if (this.live) this.clear();
  }

  private draw(): void {
    const failed = this.failed ? `, ${this.style.red(`${this.failed} failed`)}` : '';
    this.write(`\r\x1b[2Krefreshing: ${this.done}/${this.total} cluster(s) done${failed}`);
    this.shown = true;
  }

  private clear(): void {
    if (this.shown) this.write('\r\x1b[2K');
    this.shown = false;
  }
}

/**
 * Everything but colour (SGR, the only sequence acr-fleet prints itself): other escape sequences (OSC 52 clipboard
 * writes, titles, cursor moves) and control characters other than newline and tab, C1 and bidi overrides.
 */
const TERMINAL_UNSAFE =
  // eslint-disable-next-line no-control-regex
  /(\x1b\[[0-9;]*m)|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[\x20-\x7e]?|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text about to reach a terminal: the CLI's last line of defence for remote text inside acr-fleet's own messages
 * (a ConfigMap key, a server name): it can move no cursor, set no title and write no clipboard.
 */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (_, colour: string | undefined) => colour ?? '');
}
