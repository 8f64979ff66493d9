/**
 * The HTTP layer under the cluster client, in the spirit of client-go's transport: one keep-alive
 * connection pool per cluster (the TLS context is built once, connections are reused by every request
 * of the run), a timeout per attempt, and transient failures retried by the policy of retry.ts within
 * the cluster's budget. Non-2xx answers become KubeError carrying the Status reason and message, never
 * a body dump. Credentials come from the kubeconfig once, when the cluster is opened (kubeconfig.ts).
 *
 * Why not @kubernetes/client-node's generated API: 1.x builds a new https.Agent (and so a new TLS
 * context and connection) for every request, which dominated the CPU of a large fleet's first run.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeError } from '../errors.js';
import type { PortStats } from './port.js';
import { DEFAULT_RETRY, isRetryable, parseRetryAfter, RetryBudget, retryDelay, type AttemptFailure, type RetryPolicy } from './retry.js';

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
  retry?: RetryPolicy;
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Defaults to application/json when there is a body. */
  contentType?: string;
  /** Names the request in errors: `list secrets`, `create secret ns/name`. */
  what: string;
}

/** One cluster's connection pool and request loop. */
export class KubeTransport {
  readonly stats: PortStats = { requests: 0, retries: 0, connections: 0 };
  private readonly agent: http.Agent;
  private readonly base: URL;
  private readonly budget: RetryBudget;
  private readonly policy: RetryPolicy;
  /** Requests on the wire, so that close() can end them too. */
  private readonly inflight = new Set<http.ClientRequest>();
  private closed = false;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly opts: TransportOptions,
  ) {
    this.base = new URL(endpoint.server);
    this.policy = opts.retry ?? DEFAULT_RETRY;
    this.budget = new RetryBudget(opts.retryBudgetMs);
    const stats = this.stats;
    const pool = { keepAlive: true, maxSockets: opts.maxConnections, maxFreeSockets: opts.maxConnections, scheduling: 'lifo' as const };
    // Counting connections where they are made: each is one TCP (+TLS) handshake.
    const counted = <A extends http.Agent>(agent: A): A => {
      const create = (agent as unknown as { createConnection: (...a: unknown[]) => Duplex }).createConnection.bind(agent);
      (agent as unknown as { createConnection: (...a: unknown[]) => Duplex }).createConnection = (...a: unknown[]) => {
        stats.connections++;
        return create(...a);
      };
      return agent;
    };
    this.agent = this.base.protocol === 'http:' ? counted(new http.Agent(pool)) : counted(new https.Agent({ ...pool, ...endpoint.tls }));
  }

  /** Sends a request (retrying transient failures) and returns the parsed JSON answer. */
  async request<T>(req: KubeRequest): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new KubeError(`${req.what}: the cluster's connections were closed`, 0, 'Closed');
      const started = Date.now();
      this.stats.requests++;
      const outcome = await this.once(req).then(
        (r) => r,
        (err: unknown) => ({ error: err }),
      );
      if ('body' in outcome && outcome.status >= 200 && outcome.status < 300) return parseJson<T>(outcome.body, req.what);
      const failure: AttemptFailure =
        'error' in outcome ? { errno: errnoOf(outcome.error) } : { status: outcome.status, retryAfterMs: parseRetryAfter(outcome.retryAfter, Date.now()) };
      if (attempt < this.policy.maxAttempts && isRetryable(failure)) {
        const wait = retryDelay(this.policy, attempt, failure);
        if (this.budget.take(Date.now() - started, wait)) {
          this.stats.retries++;
          await sleep(wait);
          continue;
        }
      }
      throw 'error' in outcome ? networkError(req.what, outcome.error) : statusError(req.what, outcome.status, outcome.body);
    }
  }

  /** Closes the pool: requests still on the wire are ended, and none is sent or retried after. */
  close(): void {
    this.closed = true;
    for (const r of this.inflight) r.destroy(Object.assign(new Error('closed'), { code: 'Closed' }));
    this.agent.destroy();
  }

  private once(req: KubeRequest): Promise<{ status: number; body: string; retryAfter: string | undefined }> {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + req.path, this.base);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string | number> = { ...this.endpoint.headers, Accept: 'application/json', 'User-Agent': 'acr-fleet' };
    if (payload !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(payload);
    }
    const send = url.protocol === 'http:' ? http.request : https.request;
    return new Promise((resolve, reject) => {
      const r = send(url, { method: req.method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          const retryAfter = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      this.inflight.add(r);
      r.on('close', () => this.inflight.delete(r));
      // One limit for the whole exchange: a server that accepts and never answers is a timeout too.
      const timer = setTimeout(() => r.destroy(Object.assign(new Error('request timed out'), { code: 'Timeout' })), this.opts.requestTimeoutMs);
      r.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      r.end(payload);
    });
  }
}

function parseJson<T>(body: string, what: string): T {
  if (!body) return undefined as T;
  try {
    return JSON.parse(body) as T;
  } catch (err) {
    throw new KubeError(`${what}: the API server's answer is not JSON`, 0, 'InvalidResponse', { cause: err });
  }
}

/** Non-2xx → KubeError `what: HTTP 403 Forbidden: <Status message>`. */
export function statusError(what: string, status: number, body: string): KubeError {
  let parsed: { reason?: unknown; message?: unknown } | undefined;
  try {
    const v: unknown = JSON.parse(body);
    if (typeof v === 'object' && v !== null) parsed = v as typeof parsed;
  } catch {
    // 401 and some proxies answer with plain text: the status alone is named.
  }
  const reason = typeof parsed?.reason === 'string' && parsed.reason ? parsed.reason : status === 401 ? 'Unauthorized' : undefined;
  // A 401's Status message is just "Unauthorized": said once is enough.
  const message = typeof parsed?.message === 'string' && parsed.message && parsed.message !== reason ? `: ${parsed.message}` : '';
  return new KubeError(`${what}: HTTP ${status}${reason ? ` ${reason}` : ''}${message}`, status, reason);
}

function errnoOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string') return e.code;
  return /\b(E[A-Z]{3,})\b/.exec(typeof e?.message === 'string' ? e.message : '')?.[1] ?? 'request failed';
}

/** A failure without an HTTP answer: names the errno, never the URL. */
function networkError(what: string, err: unknown): KubeError {
  const code = errnoOf(err);
  if (code === 'Timeout') return new KubeError(`${what}: request timed out`, 0, 'Timeout', { cause: err });
  if (code === 'Closed') return new KubeError(`${what}: the cluster's connections were closed`, 0, 'Closed', { cause: err });
  return new KubeError(`${what}: ${code} (API server not reachable)`, 0, code, { cause: err });
}

