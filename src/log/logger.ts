/**
 * Logging: JSON lines (one object per line, for SLS) or short text lines for people. Every line goes
 * through the redactor, which masks any credential registered with it, and loses its control characters
 * (remote text is quoted where it enters; this is the last line of defence).
 */
import { stripControls } from './quote.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

/** Masks registered secret values in any text. */
export class Redactor {
  private readonly secrets = new Set<string>();

  /**
   * Registers a value that must never be printed (ignored when too short to be a credential). A value holding a
   * quote or a backslash is registered in its parts: one a tenant chose (a kubeconfig token) could otherwise mask
   * the JSON structure of logs and reports (`"status":"`) and make them unreadable.
   */
  add(value: string | undefined): void {
    if (!value) return;
    const parts = /["\\]/.test(value) ? value.split(/["\\]+/) : [value];
    for (const part of parts) if (part.length >= 8) this.secrets.add(part);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('***');
    return out;
  }
}

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  format: 'json' | 'text';
  write: (line: string) => void;
  redactor: Redactor;
  level?: Level;
  /** Fields added to every JSON line (e.g. FC request id). */
  base?: Fields;
  now?: () => Date;
}

export function createLogger(opts: LoggerOptions): Logger {
  const min = RANK[opts.level ?? 'info'];
  const now = opts.now ?? (() => new Date());
  const emit = (level: Level, raw: string, rawFields: Fields = {}) => {
    if (RANK[level] < min) return;
    const msg = stripControls(raw);
    const fields = Object.fromEntries(
      Object.entries(rawFields).map(([k, v]) => [k, typeof v === 'string' ? stripControls(v) : v]),
    );
    const line =
      opts.format === 'json'
        ? JSON.stringify({ time: now().toISOString(), level, msg, ...opts.base, ...fields })
        : `${level === 'info' ? '' : `${level}: `}${msg}${Object.entries(fields)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => ` ${k}=${String(v)}`)
            .join('')}`;
    opts.write(opts.redactor.redact(line));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
