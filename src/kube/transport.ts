/**
 * The HTTP layer under the cluster client, in the spirit of client-go's transport: over HTTPS one HTTP/2
 * connection per cluster, every request of the run multiplexed on it (as client-go talks to kube-apiserver),
 * falling back to a keep-alive HTTP/1.1 pool of `maxConnections` when the server's ALPN offers no h2 (a proxy
 * in front); a timeout per attempt; and transient failures retried by the rules of retry.ts within the
 * cluster's budget (a reset stream or a GOAWAY counts as a reset connection). Non-2xx answers become KubeError carrying the Status reason and message, never
 * a body dump. Credentials come from the kubeconfig once, when the cluster is opened (kubeconfig.ts).
 *
 * Why not @kubernetes/client-node's generated API: 1.x builds a new https.Agent (and so a new TLS
 * context and connection) for every request, which dominated the CPU of a large fleet's first run.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { KubeError } from '../errors.js';
import { ADDRESS_REFUSED } from './address.js';
import { quoteRemote } from '../log/quote.js';
import { retry, RetryBudget, type RetryPolicy, type RetryRules } from '../retry.js';
import { reportRequest } from '../log/requests.js';
import type { ClusterStats } from './cluster-client.js';
import { KUBE_RETRY, kubeRetryRules, parseRetryAfter } from './retry.js';

/** How to reach one API server, as read from a kubeconfig. */
export interface Endpoint {
  /** `https://host:port` (a path prefix is kept). */
  server: string;
  /** TLS material for the pool: CA, client certificate and key, server name, verification. */
  tls: https.AgentOptions;
  /** Authentication headers (bearer token, basic auth, impersonation). */
  headers: Record<string, string>;
}

/** Per-cluster transport settings (fleet.yaml `kubernetes:`). */
export interface TransportOptions {
  /** Connections kept open to the API server, at most. */
  maxConnections: number;
  /** One attempt's limit, from sending to the last byte of the answer. */
  requestTimeoutMs: number;
  /** Time the cluster may lose to faults (failed attempts and waits) before a failure is final. */
  retryBudgetMs: number;
  /** Largest answer read, counted as bytes arrive: past it the stream is cut, never buffered. */
  maxResponseBytes: number;
  retry?: RetryPolicy;
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Defaults to application/json when there is a body. */
  contentType?: string;
  /** The `Accept` header; application/json when absent (a metadata-only list asks for PartialObjectMetadataList). */
  accept?: string;
  /** Names the request in errors: `list secrets`, `create secret ns/name`. */
  what: string;
}

/** One cluster's connection pool and request loop. */
export class KubeTransport {
  readonly stats: ClusterStats = { requests: 0, retries: 0, connections: 0 };
  private readonly agent: http.Agent;
  private readonly base: URL;
  private readonly retryRules: RetryRules;
  /** Requests on the wire, so that close() can end them too. */
  private readonly inflight = new Set<{ destroy(err: Error): void }>();
  private closed = false;
  /** HTTPS speaks HTTP/2 until the server's ALPN says it cannot; then HTTP/1.1 on the keep-alive pool. */
  private h2 = false;
  private session: http2.ClientHttp2Session | undefined;
  /** Why a session failed (TLS, ALPN, reset): more telling than its streams' own "cancelled". */
  private readonly sessionErrors = new WeakMap<http2.ClientHttp2Session, Error>();

  constructor(
    private readonly endpoint: Endpoint,
    private readonly opts: TransportOptions,
  ) {
    this.base = new URL(endpoint.server);
    const stats = this.stats;
    this.retryRules = {
      ...kubeRetryRules(opts.retry ?? KUBE_RETRY, new RetryBudget(opts.retryBudgetMs)),
      onRetry: () => stats.retries++,
    };
    const pool = {
      keepAlive: true,
      maxSockets: opts.maxConnections,
      maxFreeSockets: opts.maxConnections,
      scheduling: 'lifo' as const,
    };
    // Counting connections where they are made: each is one TCP (+TLS) handshake.
    const counted = <A extends http.Agent>(agent: A): A => {
      const create = (agent as unknown as { createConnection: (...a: unknown[]) => Duplex }).createConnection.bind(
        agent,
      );
      (agent as unknown as { createConnection: (...a: unknown[]) => Duplex }).createConnection = (...a: unknown[]) => {
        stats.connections++;
        return create(...a);
      };
      return agent;
    };
    this.agent =
      this.base.protocol === 'http:'
        ? counted(new http.Agent(pool))
        : counted(new https.Agent({ ...pool, ...endpoint.tls }));
    this.h2 = this.base.protocol === 'https:';
  }

  /**
   * Sends a request (retrying transient failures within `budget`, the transport's own when absent: a
   * webhook request brings one of its own) and returns the parsed JSON answer.
   */
  async request<T>(req: KubeRequest, budget?: RetryBudget): Promise<T> {
    const answer = await retry(() => this.attempt(req), {
      ...this.retryRules,
      ...(budget ? { budget } : {}),
      onRetry: (err, attempt, waitMs) => {
        this.retryRules.onRetry?.(err, attempt, waitMs);
        const e = err instanceof KubeError ? err : undefined;
        const why = e?.status ? `HTTP ${e.status}${e.reason ? ` ${e.reason}` : ''}` : (e?.reason ?? 'network error');
        reportRequest({
          api: 'kubernetes',
          method: req.method,
          path: req.path,
          status: e?.status ?? 0,
          durationMs: 0,
          retry: `${why}, again in ${waitMs} ms`,
        });
      },
    });
    return parseJson<T>(answer.body, req.what);
  }

  /** A fresh retry budget of the configured size. */
  newBudget(): RetryBudget {
    return new RetryBudget(this.opts.retryBudgetMs);
  }

  /** One try: a 2xx answer, or a KubeError for the retry rules to judge. */
  private async attempt(req: KubeRequest): Promise<Answer> {
    if (this.closed) throw networkError(req.what, { code: 'Closed' });
    this.stats.requests++;
    let answer: Answer;
    const started = Date.now();
    const report = (status: number) =>
      reportRequest({
        api: 'kubernetes',
        method: req.method,
        path: req.path,
        status,
        durationMs: Date.now() - started,
      });
    try {
      answer = await this.once(req);
    } catch (err) {
      report(0);
      if ((err as { code?: unknown })?.code === TOO_LARGE) throw tooLargeError(req.what, this.opts.maxResponseBytes);
      throw networkError(req.what, err);
    }
    report(answer.status);
    if (answer.status >= 200 && answer.status < 300) return answer;
    throw statusError(req.what, answer.status, answer.body, parseRetryAfter(answer.retryAfter, Date.now()));
  }

  /** Closes the pool: requests still on the wire are ended, and none is sent or retried after. */
  close(): void {
    this.closed = true;
    for (const r of this.inflight) r.destroy(codedError('closed', 'Closed'));
    this.session?.destroy();
    this.agent.destroy();
  }

  private async once(req: KubeRequest): Promise<Answer> {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + req.path, this.base);
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string | number> = {
      ...this.endpoint.headers,
      accept: req.accept ?? 'application/json',
      'user-agent': 'acr-fleet',
    };
    if (payload !== undefined) {
      headers['content-type'] = req.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    if (this.h2) {
      try {
        return await this.onceH2(url, req.method, headers, payload);
      } catch (err) {
        if (!noH2(err)) throw err;
        // An API server (or a proxy in front) without HTTP/2: HTTP/1.1 from now on, this attempt included.
        this.h2 = false;
      }
    }
    return this.onceH1(url, req.method, headers, payload);
  }

  /** The cluster's one HTTP/2 connection, opened on first use and again after the server closed it (GOAWAY). */
  private h2session(): http2.ClientHttp2Session {
    const live = this.session;
    if (live && !live.closed && !live.destroyed) return live;
    this.stats.connections++;
    const session = http2.connect(this.base.origin, this.endpoint.tls as http2.SecureClientSessionOptions);
    const forget = () => {
      if (this.session === session) this.session = undefined;
    };
    // Failures reach the streams (see onceH2); the session itself only has to be forgotten.
    session.on('error', (err) => {
      this.sessionErrors.set(session, err);
      forget();
    });
    session.on('goaway', forget);
    session.on('close', forget);
    session.on('connect', () => {
      if (session.alpnProtocol !== 'h2') session.destroy(codedError('no HTTP/2', 'ERR_ALPN_NO_H2'));
    });
    this.session = session;
    return session;
  }

  private onceH2(
    url: URL,
    method: string,
    headers: Record<string, string | number>,
    payload: string | undefined,
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      let session: http2.ClientHttp2Session;
      try {
        session = this.h2session();
        // Node ends GET/DELETE streams at once unless told there is a body (a DELETE carries its preconditions).
        stream = session.request(
          { ':method': method, ':path': url.pathname + url.search, ...headers },
          { endStream: payload === undefined },
        );
      } catch (err) {
        reject(err);
        return;
      }
      // A stream fails before its session says why (certificate, ALPN): look a moment later.
      const fail = (err: Error) => setImmediate(() => finish(() => reject(this.sessionErrors.get(session) ?? err)));
      let status = 0;
      let retryAfter: string | undefined;
      let done = false;
      const chunks: Buffer[] = [];
      let received = 0;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.inflight.delete(stream);
        fn();
      };
      this.inflight.add(stream);
      const timer = setTimeout(() => {
        const timeout = codedError('request timed out', 'Timeout');
        stream.destroy(timeout);
        // The connection may be dead without knowing it (a NAT or load balancer dropped it): as an HTTP/1.1
        // socket would be, it is dropped (its other requests fail as timed out too, and are retried), and the
        // next attempt opens a new one.
        if (this.session === session) {
          this.sessionErrors.set(session, timeout);
          session.destroy();
        }
      }, this.opts.requestTimeoutMs);
      stream.on('response', (h) => {
        status = Number(h[':status']);
        const ra = h['retry-after'];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
      });
      stream.on('data', (c: Buffer) => {
        received += c.length;
        if (received > this.opts.maxResponseBytes) {
          // Reset this stream only (RST_STREAM): the connection and its other requests live on.
          const err = codedError('answer too large', TOO_LARGE);
          finish(() => reject(err));
          stream.destroy(err);
          return;
        }
        chunks.push(c);
      });
      stream.on('end', () => {
        if (!status) fail(codedError('stream ended without an answer', 'ERR_HTTP2_STREAM_ERROR'));
        else finish(() => resolve({ status, body: Buffer.concat(chunks).toString('utf8'), retryAfter }));
      });
      stream.on('error', fail);
      // A stream reset by the server, or cut with its connection, may close without an error of its own.
      stream.on('close', () => fail(codedError('stream closed', 'ERR_HTTP2_STREAM_ERROR')));
      if (payload !== undefined) stream.end(payload);
    });
  }

  private onceH1(
    url: URL,
    method: string,
    headers: Record<string, string | number>,
    payload: string | undefined,
  ): Promise<Answer> {
    const send = url.protocol === 'http:' ? http.request : https.request;
    return new Promise((resolve, reject) => {
      const r = send(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (c: Buffer) => {
          received += c.length;
          if (received > this.opts.maxResponseBytes) {
            clearTimeout(timer);
            const err = codedError('answer too large', TOO_LARGE);
            reject(err);
            r.destroy(err);
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const retryAfter = res.headers['retry-after'];
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
          });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      this.inflight.add(r);
      r.on('close', () => this.inflight.delete(r));
      // One limit for the whole exchange: a server that accepts and never answers is a timeout too.
      const timer = setTimeout(() => r.destroy(codedError('request timed out', 'Timeout')), this.opts.requestTimeoutMs);
      r.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      r.end(payload);
    });
  }
}

/** One attempt's answer. */
interface Answer {
  status: number;
  body: string;
  retryAfter: string | undefined;
}

/** The code of an answer cut at `maxResponseBytes`. */
const TOO_LARGE = 'ResponseTooLarge';

/** `1 MiB`, `512 KiB`, `900 bytes`: a byte cap as people write it. */
export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}

/** An answer past the byte cap: final (a larger cluster stays larger), naming the setting that raises it. */
function tooLargeError(what: string, max: number): KubeError {
  return new KubeError(
    `${quoteRemote(what)}: answer larger than kubernetes.maxResponseBytes (${formatBytes(max)}); raise it in fleet.yaml if the cluster is that large`,
    { status: 0, reason: TOO_LARGE },
  );
}

/** An Error with a `code`, as Node's own network errors carry one (read by errnoOf). */
function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The server's TLS said it speaks no HTTP/2 (ALPN). */
function noH2(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === 'ERR_ALPN_NO_H2' || code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL';
}

function parseJson<T>(body: string, what: string): T {
  if (!body) return undefined as T;
  try {
    return JSON.parse(body) as T;
  } catch (err) {
    throw new KubeError(`${what}: the API server's answer is not JSON`, {
      status: 0,
      reason: 'InvalidResponse',
      cause: err,
    });
  }
}

/** Non-2xx → KubeError `what: HTTP 403 Forbidden: <Status message>`, with the server's `Retry-After` (ms) if any. */
export function statusError(what: string, status: number, body: string, retryAfterMs?: number): KubeError {
  let parsed: { reason?: unknown; message?: unknown } | undefined;
  try {
    const v: unknown = JSON.parse(body);
    if (typeof v === 'object' && v !== null) parsed = v as typeof parsed;
  } catch {
    // 401 and some proxies answer with plain text: the status alone is named.
  }
  // The server's words are quoted, not trusted: no control characters, one line, a bounded length.
  const reason =
    typeof parsed?.reason === 'string' && parsed.reason
      ? quoteRemote(parsed.reason, 64)
      : status === 401
        ? 'Unauthorized'
        : undefined;
  // A 401's Status message is just "Unauthorized": said once is enough.
  const quoted = typeof parsed?.message === 'string' ? quoteRemote(parsed.message) : '';
  const message = quoted && quoted !== reason ? `: ${quoted}` : '';
  return new KubeError(`${quoteRemote(what)}: HTTP ${status}${reason ? ` ${reason}` : ''}${message}`, {
    status,
    reason,
    retryAfterMs,
  });
}

/** The errno or TLS code of a failure without an HTTP answer (fetch wraps it in `cause`). */
function errnoOf(err: unknown): string {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: { code?: unknown } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'Timeout';
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return (
    /\b(E[A-Z]{3,}|CERT_[A-Z_]+|UNABLE_TO_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\b/.exec(
      typeof e?.message === 'string' ? e.message : '',
    )?.[1] ?? 'request failed'
  );
}

/** A failure without an HTTP answer: names the errno, never the URL. */
export function networkError(what: string, err: unknown): KubeError {
  const code = errnoOf(err);
  const message =
    code === 'Timeout'
      ? 'request timed out'
      : code === 'Closed'
        ? "the cluster's connections were closed"
        : code === ADDRESS_REFUSED
          ? (err as Error).message
          : `${code} (API server not reachable)`;
  return new KubeError(`${quoteRemote(what)}: ${message}`, { status: 0, reason: code, cause: err });
}
