/**
 * Hostile behaviour, for tests of a cluster that misbehaves by fault or by intent. Nothing here is a real
 * server's behaviour; each rule plays something seen from broken or malicious servers and proxies:
 *  - endlessBody: a 200 JSON answer that never ends (a list whose items keep coming), streamed with
 *    backpressure until the client hangs up, or until a safety cap in bytes or time so a test process
 *    cannot hang or fill memory on a client that never gives up.
 *  - endlessPages: every list page carries a fresh `continue` token (and the same items), forever.
 *  - echoHeaders: every request is answered with a Status whose message repeats the request's headers
 *    (Authorization included), as a proxy or debug endpoint that reflects requests would.
 *  - controlCharacters: every Status message and reason carries ANSI escapes, a carriage return, a bell
 *    and an OSC 52 clipboard write.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Reply } from './api.js';
import { KubeStatusError } from './status.js';

/** One hostile rule: what to do and where (`path` tested against the URL path; default every path). */
export interface HostileRule {
  path?: RegExp;
  /** Stream an endless body; caps default to 64 MiB and 30 s. */
  endlessBody?: boolean | { maxBytes?: number; maxMs?: number };
  endlessPages?: boolean;
  /** Answer with a Status (code `status`, default 500) that echoes the request headers. */
  echoHeaders?: boolean;
  status?: number;
  controlCharacters?: boolean;
}

/** What the control-character rule wraps around every Status message (an OSC 52 write of "pwned"). */
export const HOSTILE_PREFIX = `\u001b[2K\r\u001b]52;c;${Buffer.from('pwned').toString('base64')}\u0007\u001b[31m`;
export const HOSTILE_SUFFIX = '\u001b[0m\u0008\u0000';

/** The hostile rules of one emulator, and what the endless bodies sent. */
export class Hostility {
  private rules: HostileRule[] = [];
  /** Bytes streamed by endless bodies so far (all requests). */
  endlessBytes = 0;

  add(rule: HostileRule): void {
    this.rules.push(rule);
  }

  clear(): void {
    this.rules = [];
  }

  /** The merged rules that apply to a path, or undefined. */
  match(path: string): HostileRule | undefined {
    const hits = this.rules.filter((r) => !r.path || r.path.test(path));
    return hits.length ? Object.assign({}, ...hits) : undefined;
  }

  /** Wraps a Status body's message and reason in escape sequences. */
  static poison(status: Record<string, unknown>): void {
    status.message = `${HOSTILE_PREFIX}${String(status.message ?? '')}${HOSTILE_SUFFIX}`;
    status.reason = `${String(status.reason ?? 'Unknown')}\u001b]0;owned\u0007\r`;
  }

  /** A Status echoing the request headers. */
  static echo(headers: IncomingHttpHeaders, rule: HostileRule): KubeStatusError {
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
    const code = rule.status ?? 500;
    return new KubeStatusError(
      code,
      'InternalError',
      `upstream rejected the request; request was: ${lines.join('; ')}`,
      {},
    );
  }

  /** Sets a fresh continue token on a list page (the next page starts over: same items, another token). */
  static endlessPage(reply: Reply, url: URL): Reply {
    const body = reply.body as { metadata?: Record<string, unknown> };
    if (!body.metadata) return reply;
    let page: number;
    try {
      page = (
        JSON.parse(Buffer.from(url.searchParams.get('continue') ?? '', 'base64url').toString()) as { page: number }
      ).page;
    } catch {
      page = 0;
    }
    const metadata: Record<string, unknown> = {
      ...body.metadata,
      continue: Buffer.from(JSON.stringify({ after: '', page: (page || 0) + 1 })).toString('base64url'),
    };
    delete metadata.remainingItemCount;
    return { ...reply, body: { ...body, metadata } };
  }

  /** Streams a JSON list that never closes, until the client goes away or a cap is reached. */
  async endlessBody(res: ServerResponse, rule: HostileRule): Promise<void> {
    const o = typeof rule.endlessBody === 'object' ? rule.endlessBody : {};
    const maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
    const deadline = Date.now() + (o.maxMs ?? 30_000);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    const chunk = Buffer.from(
      `{"metadata":{"name":"${'x'.repeat(200)}","namespace":"default"},"type":"Opaque"},`.repeat(256),
    );
    let sent = 0;
    const write = (b: Buffer) => {
      sent += b.length;
      this.endlessBytes += b.length;
      return res.write(b);
    };
    write(Buffer.from('{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":['));
    while (!res.destroyed && sent < maxBytes && Date.now() < deadline) {
      if (!write(chunk)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => done(), Math.max(0, deadline - Date.now()));
          const done = () => {
            clearTimeout(timer);
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      }
    }
    if (!res.destroyed) res.end();
  }
}
