/**
 * A local stand-in for an FC 3.0 HTTP trigger: an HTTPS server (test/emulators/tls) that turns each
 * request into the HTTP-trigger event (payload format v1) and calls the real handler with it, then
 * maps the handler's `{statusCode, headers, isBase64Encoded, body}` onto the response, as FC does
 * ("Use an HTTP trigger to invoke a function", FC 3.0 built-in runtimes:
 * https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/user-guide/http-trigger-invoking-function).
 * Multi-value headers and query parameters are joined with ",", as that page shows.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

const TLS_DIR = new URL('../emulators/tls/', import.meta.url);
/** The CA the API servers must trust to call this trigger. */
export const TRIGGER_CA_FILE = new URL('cert.pem', TLS_DIR);

/** What FC hands a built-in runtime function: the event buffer and the context. */
export type FcHttpHandler = (
  event: Buffer,
  context: { requestId: string },
) => Promise<{ statusCode?: number; headers?: Record<string, string>; isBase64Encoded?: boolean; body?: unknown }>;

export interface FcHttpTrigger {
  /** `https://127.0.0.1:<port>`: the trigger's URL. */
  url: string;
  /** Requests served, with the status answered (paths are never recorded: they carry secrets). */
  readonly calls: { status: number }[];
  /** While down, every request gets the connection reset (an instance that cannot start). */
  down: boolean;
  close(): Promise<void>;
}

/** Starts the trigger in front of `handler`. */
export async function startFcHttpTrigger(handler: FcHttpHandler): Promise<FcHttpTrigger> {
  const calls: { status: number }[] = [];
  const state = { down: false };
  const server: Server = createServer(
    { cert: readFileSync(new URL('cert.pem', TLS_DIR)), key: readFileSync(new URL('key.pem', TLS_DIR)) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (state.down) {
          req.socket.destroy();
          return;
        }
        const url = new URL(req.url ?? '/', 'https://trigger');
        const raw = Buffer.concat(chunks);
        const text = raw.toString('utf8');
        const binary = !Buffer.from(text, 'utf8').equals(raw);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
        const queryParameters: Record<string, string> = {};
        for (const k of new Set(url.searchParams.keys())) queryParameters[k] = url.searchParams.getAll(k).join(',');
        const requestId = `1-${randomUUID()}`;
        const now = new Date();
        const event = {
          version: 'v1',
          rawPath: url.pathname,
          body: binary ? raw.toString('base64') : text,
          isBase64Encoded: binary,
          headers,
          queryParameters,
          requestContext: {
            accountId: '1234567890123456',
            domainName: req.headers.host ?? '',
            domainPrefix: 'acr-fleet-webhook',
            http: {
              method: req.method ?? 'GET',
              path: decodeURIComponent(url.pathname),
              protocol: `HTTP/${req.httpVersion}`,
              sourceIp: req.socket.remoteAddress ?? '',
              userAgent: req.headers['user-agent'] ?? '',
            },
            requestId,
            time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
            timeEpoch: String(now.getTime()),
          },
        };
        handler(Buffer.from(JSON.stringify(event)), { requestId }).then(
          (r) => {
            // A result that is not the response struct is sent as the body with status 200.
            const struct = r && typeof r === 'object' && 'statusCode' in r;
            const status = struct ? (r.statusCode ?? 200) : 200;
            const body = struct
              ? r.isBase64Encoded
                ? Buffer.from(String(r.body ?? ''), 'base64')
                : Buffer.from(String(r.body ?? ''))
              : Buffer.from(JSON.stringify(r));
            calls.push({ status });
            res.writeHead(status, { ...(struct ? r.headers : {}), 'content-length': body.length });
            res.end(body);
          },
          () => {
            // An unhandled error: FC answers 502 with its own error body.
            calls.push({ status: 502 });
            res.writeHead(502, { 'content-type': 'application/json' });
            res.end('{"errorMessage":"function failed"}');
          },
        );
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    calls,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
