/**
 * The HTTP(S) front of the emulator: one listener per (product, region), request parsing, routing to product
 * operations, authentication (ACS3 / V1 RPC / V1 ROA / anonymous), fault injection, recording, and error
 * rendering.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  acs3SignatureMismatch,
  actionNotFound,
  ApiError,
  incompleteSignature,
  internalError,
  invalidVersion,
  missingParameter,
  nonceUsed,
  timestampExpired,
  timestampFormat,
  v1SignatureMismatch,
} from './errors.js';
import { accessDeniedDetail, type Iam, type Principal } from './identity.js';
import {
  acs3CanonicalRequest,
  acs3Signature,
  acs3StringToSign,
  parseAcs3Authorization,
  safeEqual,
  sha256Hex,
  v1RoaSignature,
  v1RoaStringToSign,
  v1RpcSignature,
  v1RpcStringToSign,
} from './signature.js';

/** A product the emulator serves. */
export type Product = 'cr' | 'sts' | 'kms' | 'cs' | 'fc' | 'adcp' | 'ram';

/** One request the emulator answered. */
export interface RequestRecord {
  /** The product, or `hostile` for a listener started by `hostileEndpoint`. */
  product: Product | 'hostile';
  region: string;
  /** The listener's base URL (`http://127.0.0.1:<port>`), so a test can assert that no request reached it. */
  listener: string;
  /** The Host header the client sent (the SDK sends its configured endpoint). */
  host: string;
  method: string;
  path: string;
  action: string;
  accessKeyId?: string;
  status: number;
  code?: string;
}

/** What a product operation sees of a request. */
export interface Context {
  product: Product;
  region: string;
  action: string;
  requestId: string;
  /** Query parameters merged with form-body parameters (RPC products accept either). */
  params: Record<string, string>;
  /** ROA path captures (decoded). */
  pathParams: string[];
  /** Request headers (first value each, lowercase names) and the raw body, for operations that read them (FC). */
  headers: Record<string, string | undefined>;
  body: Buffer;
  /** The authenticated caller; undefined for anonymous operations. */
  caller: Principal | undefined;
  now: number;
  /** The caller, which authenticated operations always have. */
  requireCaller(): Principal;
  /** RAM check: throws the product's denial error unless the caller may do `ramAction` on `resource`. */
  authorize(ramAction: string, resource: string): void;
}

/** One API of a product. RPC when `roa` is absent (POST/GET `/`, action named by header or `Action`). */
export interface Operation {
  action: string;
  version: string;
  roa?: { method: string; path: RegExp };
  /** No credentials needed (STS AssumeRoleWithOIDC). */
  anonymous?: boolean;
  handle(ctx: Context): unknown;
}

/** A product's operations and its way of saying "RAM denied this". */
export interface ProductModule {
  readonly product: Product;
  readonly operations: Operation[];
  denied(caller: Principal, ramAction: string, resource: string): ApiError;
}

/** An operation's answer that is not a JSON document (FC InvokeFunction): status, headers and body as given. */
export class RawResponse {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: Buffer | string,
  ) {}
}

/** A pending fault from `injectError`. */
export interface Fault {
  action: string;
  region?: string;
  status?: number;
  code?: string;
  message?: string;
  times: number;
  latencyMs?: number;
}

/**
 * A token bucket for one API: `ratePerSecond` tokens refill continuously up to `burst`; each call of a caller
 * takes one from that caller's own bucket. Real APIs limit per caller (the gateway's "user flow control").
 */
export interface Throttle {
  action: string;
  /** Limits only this product's API of that name (default: every product's). */
  product?: Product;
  ratePerSecond: number;
  burst: number;
}

/** The gateway's clock tolerance for x-acs-date / Timestamp / Date. */
const MAX_SKEW_MS = 15 * 60 * 1000;

/** Parsed request, everything authentication and routing need. */
interface Incoming {
  method: string;
  pathname: string;
  query: Record<string, string>;
  form: Record<string, string>;
  body: Buffer;
  headers: Record<string, string[] | undefined>;
}

const decode = (s: string): string => {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
};

/** `a=1&b=2` → record, decoded the way Node's querystring does. */
function parsePairs(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    out[decode(eq < 0 ? pair : pair.slice(0, eq))] = eq < 0 ? '' : decode(pair.slice(eq + 1));
  }
  return out;
}

async function readIncoming(req: IncomingMessage): Promise<Incoming> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const contentType = req.headers['content-type'] ?? '';
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    pathname: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? {} : parsePairs(url.slice(q + 1)),
    form: contentType.includes('application/x-www-form-urlencoded') ? parsePairs(body.toString('utf8')) : {},
    body,
    headers: req.headersDistinct,
  };
}

const first = (inc: Incoming, name: string): string | undefined => inc.headers[name]?.[0];

/** Listeners, routing and the checks every real endpoint makes before a product sees the request. */
export class ApiServer {
  readonly requests: RequestRecord[] = [];
  private readonly faults: Fault[] = [];
  private readonly nonces = new Map<string, number>();
  private readonly listeners = new Map<string, { server: Server; url: string }>();
  private readonly extraServers: Server[] = [];
  private readonly throttles: Throttle[] = [];
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly iam: Iam,
    private readonly modules: ProductModule[],
    private readonly regions: string[],
    private readonly tls: boolean,
    private readonly latencyMs = 0,
  ) {}

  /** Opens one listener per (product, region) on 127.0.0.1, each on its own port. */
  async start(): Promise<void> {
    const tlsFiles = this.tlsFiles();
    const products = [...new Set(this.modules.map((m) => m.product))];
    await Promise.all(
      products.flatMap((product) =>
        this.regions.map(async (region) => {
          const handler = (req: IncomingMessage, res: ServerResponse): void => {
            void this.handle(product, region, req, res);
          };
          const server = tlsFiles ? createHttpsServer(tlsFiles, handler) : createHttpServer(handler);
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => resolve());
          });
          const { port } = server.address() as AddressInfo;
          this.listeners.set(`${product}/${region}`, {
            server,
            url: `${tlsFiles ? 'https' : 'http'}://127.0.0.1:${port}`,
          });
        }),
      ),
    );
  }

  /** Base URL of a product in a region. */
  endpoint(product: Product, region: string): string {
    const l = this.listeners.get(`${product}/${region}`);
    if (!l) throw new Error(`no ${product} endpoint in ${region}; regions: ${this.regions.join(', ')}`);
    return l.url;
  }

  /** Limits an API per caller from now on (replacing an earlier limit of the same action and product). */
  throttle(t: Throttle): void {
    const i = this.throttles.findIndex((x) => x.action === t.action && x.product === t.product);
    if (i >= 0) this.throttles.splice(i, 1);
    this.throttles.push(t);
  }

  /**
   * Opens one more listener on 127.0.0.1 that answers every request with `respond` and records it (product
   * `hostile`): a host a tenant controls. Returns its base URL.
   */
  async listen(region: string, respond: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    const tlsFiles = this.tlsFiles();
    let url = '';
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      void (async () => {
        for await (const _chunk of req) {
          // drained: the body is not needed, only that the request arrived
        }
        const q = (req.url ?? '/').indexOf('?');
        this.requests.push({
          product: 'hostile',
          region,
          listener: url,
          host: req.headers.host ?? '',
          method: (req.method ?? 'GET').toUpperCase(),
          path: q < 0 ? (req.url ?? '/') : (req.url ?? '/').slice(0, q),
          action: req.headers['x-acs-action']?.toString() ?? '',
          status: 200,
          ...(typeof req.headers.authorization === 'string'
            ? { accessKeyId: /Credential=([^,]+)/.exec(req.headers.authorization)?.[1] }
            : {}),
        });
        respond(req, res);
      })();
    };
    const server = tlsFiles ? createHttpsServer(tlsFiles, handler) : createHttpServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.extraServers.push(server);
    url = `${tlsFiles ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return url;
  }

  private tlsFiles(): { cert: Buffer; key: Buffer } | undefined {
    return this.tls
      ? {
          cert: readFileSync(new URL('../tls/cert.pem', import.meta.url)),
          key: readFileSync(new URL('../tls/key.pem', import.meta.url)),
        }
      : undefined;
  }

  /** Queues a fault for the next matching calls. */
  inject(fault: Fault): void {
    this.faults.push(fault);
  }

  /** Stops every listener, dropping keep-alive connections the SDK agents hold. */
  async close(): Promise<void> {
    await Promise.all(
      [...[...this.listeners.values()].map((l) => l.server), ...this.extraServers].map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
    this.listeners.clear();
    this.extraServers.length = 0;
  }

  private async handle(product: Product, region: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID().toUpperCase();
    const host = `${product}.${region}.aliyuncs.com`;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const record: RequestRecord = {
      product,
      region,
      listener: this.listeners.get(`${product}/${region}`)?.url ?? '',
      host: req.headers.host ?? '',
      method: (req.method ?? 'GET').toUpperCase(),
      path: q < 0 ? url : url.slice(0, q),
      action: '',
      status: 200,
    };
    let status = 200;
    let body: unknown;
    try {
      const inc = await readIncoming(req);
      if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
      body = await this.dispatch(product, region, inc, requestId, record);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError();
      status = err.status;
      record.code = err.code;
      body = err.body(requestId, host);
    }
    if (body instanceof RawResponse) {
      record.status = body.status;
      this.requests.push(record);
      res.writeHead(body.status, {
        'content-type': 'application/octet-stream',
        'x-acs-request-id': requestId,
        ...body.headers,
      });
      res.end(body.body);
      return;
    }
    record.status = status;
    this.requests.push(record);
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': requestId });
    res.end(JSON.stringify(body));
  }

  private async dispatch(
    product: Product,
    region: string,
    inc: Incoming,
    requestId: string,
    record: RequestRecord,
  ): Promise<unknown> {
    const params = { ...inc.query, ...inc.form };
    const { module, op } = this.route(product, inc, params, record);
    const now = Date.now();
    const caller = op.anonymous ? undefined : this.authenticate(inc, params, now, record);
    if (caller) this.takeToken(product, op, caller, now);
    await this.applyFault(op.action, region);
    const ctx: Context = {
      product,
      region,
      action: op.action,
      requestId,
      params,
      pathParams: op.roa ? (op.roa.path.exec(inc.pathname)?.slice(1) ?? []).map(decode) : [],
      headers: Object.fromEntries(Object.entries(inc.headers).map(([k, v]) => [k, v?.[0]])),
      body: inc.body,
      caller,
      now,
      requireCaller: () => {
        if (!caller) throw missingParameter('AccessKeyId');
        return caller;
      },
      authorize: (ramAction, resource) => {
        const who = ctx.requireCaller();
        if (!this.iam.isAllowed(who, ramAction, resource)) throw module.denied(who, ramAction, resource);
      },
    };
    return await op.handle(ctx);
  }

  /** Finds the operation: ROA by method and path, RPC by `x-acs-action` header or `Action` parameter. */
  private route(
    product: Product,
    inc: Incoming,
    params: Record<string, string>,
    record: RequestRecord,
  ): { module: ProductModule; op: Operation } {
    const modules = this.modules.filter((m) => m.product === product);
    const version = first(inc, 'x-acs-version') ?? params.Version;
    for (const module of modules) {
      for (const op of module.operations) {
        if (op.roa && op.roa.method === inc.method && op.roa.path.test(inc.pathname)) {
          record.action = op.action;
          if (version !== undefined && version !== op.version) throw invalidVersion();
          return { module, op };
        }
      }
    }
    const action = first(inc, 'x-acs-action') ?? params.Action ?? '';
    record.action = action;
    if (inc.pathname !== '/') throw actionNotFound();
    const candidates = modules.flatMap((module) =>
      module.operations.filter((op) => !op.roa && op.action === action).map((op) => ({ module, op })),
    );
    const match = candidates.find((c) => c.op.version === version);
    if (match) return match;
    throw candidates.length > 0 ? invalidVersion() : actionNotFound();
  }

  /** Verifies whichever signature the request carries and returns the caller. */
  private authenticate(inc: Incoming, params: Record<string, string>, now: number, record: RequestRecord): Principal {
    const authorization = first(inc, 'authorization');
    if (authorization?.startsWith('ACS3-')) return this.verifyAcs3(inc, authorization, now, record);
    if (authorization?.startsWith('acs ')) return this.verifyV1Roa(inc, authorization, now, record);
    if (params.AccessKeyId !== undefined || params.Signature !== undefined)
      return this.verifyV1Rpc(inc, params, now, record);
    throw missingParameter('AccessKeyId');
  }

  private verifyAcs3(inc: Incoming, authorization: string, now: number, record: RequestRecord): Principal {
    const auth = parseAcs3Authorization(authorization);
    if (!auth || auth.algorithm !== 'ACS3-HMAC-SHA256') throw incompleteSignature();
    record.accessKeyId = auth.accessKeyId;
    this.checkTime(first(inc, 'x-acs-date'), 'x-acs-date', now);
    const { secret, principal } = this.iam.authenticate(auth.accessKeyId, first(inc, 'x-acs-security-token'), now);
    const canonical = acs3CanonicalRequest({
      method: inc.method,
      pathname: inc.pathname,
      query: inc.query,
      headers: inc.headers,
      signedHeaders: auth.signedHeaders,
      payloadHash: sha256Hex(inc.body),
    });
    const stringToSign = acs3StringToSign(canonical);
    if (!safeEqual(acs3Signature(secret, stringToSign), auth.signature))
      throw acs3SignatureMismatch(stringToSign, canonical);
    this.useNonce(auth.accessKeyId, first(inc, 'x-acs-signature-nonce'), now);
    return principal;
  }

  private verifyV1Rpc(inc: Incoming, params: Record<string, string>, now: number, record: RequestRecord): Principal {
    const accessKeyId = params.AccessKeyId;
    if (!accessKeyId) throw missingParameter('AccessKeyId');
    record.accessKeyId = accessKeyId;
    const signature = params.Signature;
    if (!signature) throw missingParameter('Signature');
    this.checkTime(params.Timestamp, 'Timestamp', now);
    const { secret, principal } = this.iam.authenticate(accessKeyId, params.SecurityToken, now);
    const stringToSign = v1RpcStringToSign(inc.method, params);
    if (!safeEqual(v1RpcSignature(secret, stringToSign), signature)) throw v1SignatureMismatch(stringToSign);
    this.useNonce(accessKeyId, params.SignatureNonce, now);
    return principal;
  }

  private verifyV1Roa(inc: Incoming, authorization: string, now: number, record: RequestRecord): Principal {
    const m = /^acs ([^:]+):(.+)$/.exec(authorization);
    if (!m?.[1] || !m[2]) throw incompleteSignature();
    const [, accessKeyId, signature] = m;
    record.accessKeyId = accessKeyId;
    this.checkTime(first(inc, 'date'), 'Date', now);
    const { secret, principal } = this.iam.authenticate(accessKeyId, first(inc, 'x-acs-security-token'), now);
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(inc.headers)) headers[k] = v?.[0];
    const stringToSign = v1RoaStringToSign({ method: inc.method, pathname: inc.pathname, query: inc.query, headers });
    if (!safeEqual(v1RoaSignature(secret, stringToSign), signature)) throw v1SignatureMismatch(stringToSign);
    this.useNonce(accessKeyId, first(inc, 'x-acs-signature-nonce'), now);
    return principal;
  }

  /** The request time must be within 15 minutes of the server's. */
  private checkTime(value: string | undefined, name: string, now: number): void {
    if (value === undefined) throw missingParameter(name);
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw timestampFormat();
    if (Math.abs(now - t) > MAX_SKEW_MS) throw timestampExpired();
  }

  /** A nonce is good once per AccessKey within the clock tolerance window (anti-replay). */
  private useNonce(accessKeyId: string, nonce: string | undefined, now: number): void {
    if (nonce === undefined) return;
    const key = `${accessKeyId}\n${nonce}`;
    if (this.nonces.has(key)) throw nonceUsed();
    this.nonces.set(key, now);
    if (this.nonces.size > 10_000) {
      for (const [k, t] of this.nonces) if (now - t > 2 * MAX_SKEW_MS) this.nonces.delete(k);
    }
  }

  /**
   * Token bucket per (caller, API): over the limit the gateway refuses with `Throttling.User` "Request was
   * denied due to user flow control." (the gateway's message, quoted in many public reports; 400 assumed).
   */
  private takeToken(product: Product, op: Operation, caller: Principal, now: number): void {
    const limit = this.throttles.find(
      (t) => t.action === op.action && (t.product === undefined || t.product === product),
    );
    if (!limit) return;
    // One bucket per API (product, version, action): CR EE and PE GetAuthorizationToken are separate APIs.
    const key = `${product}\n${op.version}\n${op.action}\n${caller.callerArn}`;
    const bucket = this.buckets.get(key) ?? { tokens: limit.burst, at: now };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.ratePerSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) throw new ApiError(400, 'Throttling.User', 'Request was denied due to user flow control.');
    bucket.tokens -= 1;
  }

  /** Delays and/or fails the call if a fault is queued for it. */
  private async applyFault(action: string, region: string): Promise<void> {
    const i = this.faults.findIndex((f) => f.action === action && (f.region === undefined || f.region === region));
    const fault = this.faults[i];
    if (!fault) return;
    if (--fault.times <= 0) this.faults.splice(i, 1);
    if (fault.latencyMs) await new Promise((r) => setTimeout(r, fault.latencyMs));
    const fails =
      fault.status !== undefined || fault.code !== undefined || fault.message !== undefined || !fault.latencyMs;
    if (fails) {
      const base = internalError();
      throw new ApiError(fault.status ?? 500, fault.code ?? base.code, fault.message ?? base.message);
    }
  }
}

/** NoPermission with AccessDeniedDetail, the RAM denial of the current gateway. */
export function ramDenied(caller: Principal, ramAction: string): ApiError {
  return new ApiError(403, 'NoPermission', 'You are not authorized to perform this operation.', {
    AccessDeniedDetail: accessDeniedDetail(caller, ramAction),
  });
}
