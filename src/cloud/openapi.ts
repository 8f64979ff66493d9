/**
 * The one place that talks to Alibaba Cloud OpenAPI: builds SDK clients per (product, region), calls
 * `callApi` exactly as the generated SDKs do, and turns SDK failures into CloudError with the
 * service's error code. Error messages are rebuilt from the code and message only: SDK messages can
 * quote a request URL, and a V1 signature mismatch quotes the string to sign.
 *
 * Transient failures are retried here, by an explicit policy (see `isTransient`). The SDK's own
 * `autoretry` is left off: in openapi-client 0.4 its loop only repeats on a tea `RetryError`, which
 * nothing in the client ever throws, so `autoretry: true` retried nothing.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import OpenApiModule from '@alicloud/openapi-client';
import UtilModule from '@alicloud/tea-util';
import { CloudError } from '../errors.js';
import { quoteRemote } from '../log/quote.js';
import type { Endpoints } from '../config/resolve.js';
import { reportRequest } from '../log/requests.js';
import { NoCredentialsError, type CredentialClient } from './credentials.js';
import { checkEndpoint, EndpointRefused, resolveEndpoint, type Product } from './endpoints.js';
import { capCloudResponses, ResponseRefused } from './response-cap.js';
import { retry, type RetryPolicy } from '../retry.js';

const { default: Client, Config, Params, OpenApiRequest } = OpenApiModule;
const { RuntimeOptions } = UtilModule;
/** The openapi-client base client. */
export type SdkClient = InstanceType<typeof Client>;

/** One RPC-style call (POST /, parameters in the query). */
export interface RpcCall {
  product: Product;
  region: string;
  action: string;
  version: string;
  query: Record<string, string | number | boolean | undefined>;
  /** False for a write that must not run twice: only failures that prove it never ran are retried. */
  idempotent?: boolean;
}

/** One ROA-style call (REST path). */
export interface RoaCall {
  product: Product;
  region: string;
  action: string;
  version: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  pathname: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body (CS GrantPermissions takes a list). */
  body?: unknown;
  /** A write safe to send twice (a replace-all such as GrantPermissions); default: only GET is. */
  idempotent?: boolean;
  /** `array` for an answer that is a JSON list (CS DescribeUserPermission); default `json` (an object). */
  bodyType?: 'json' | 'array';
}

/** A generated product SDK client class (they all extend the openapi-client `Client`). */
export type SdkClass<C extends SdkClient> = new (config: InstanceType<typeof Config>) => C;

/** One call through a generated product SDK (e.g. `@alicloud/sts20150401`), on this caller's client and runtime. */
export interface SdkCall<C extends SdkClient, R> {
  product: Product;
  region: string;
  /** For products whose endpoint names the account (FC 3.0 invocations). */
  accountId?: string;
  action: string;
  /** False for a call that must not run twice: only throttling, which proves it never ran, is retried. */
  idempotent?: boolean;
  sdk: SdkClass<C>;
  send(client: C, runtime: InstanceType<typeof RuntimeOptions>): Promise<R>;
}

/** Port the rest of the code depends on: make a call, get the parsed JSON body (or the SDK's typed answer). */
export interface OpenApiCaller {
  rpc(call: RpcCall): Promise<Record<string, unknown>>;
  roa(call: RoaCall): Promise<Record<string, unknown>>;
  sdk<C extends SdkClient, R>(call: SdkCall<C, R>): Promise<R>;
}

/** Options for SDK calls. */
export interface OpenApiOptions {
  endpoints: Endpoints;
  credential: CredentialClient;
  /** Per-request timeout; the SDK's default read timeout is too long for a timer function. */
  timeoutMs?: number;
  /** How transient failures are retried; OPENAPI_RETRY when absent. */
  retry?: RetryPolicy;
}

/**
 * Four tries with 1.05–2.1 s of waiting in all: always past a throttled second (equal jitter halves each wait at
 * worst, so a 200 ms base could give up after 0.7 s), and short for a timer tick.
 */
export const OPENAPI_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 300, maxDelayMs: 2000 };

/**
 * Per-task retry counter: calls made inside `countRetries(fn)` add their retries to its count, so the
 * token broker can report the retries of each registry although callers are shared between registries.
 */
const retryScope = new AsyncLocalStorage<{ retries: number }>();

/** Runs `fn`, counting the OpenAPI retries made on its behalf. */
export async function countRetries<T>(
  fn: () => Promise<T>,
): Promise<{ result: PromiseSettledResult<T>; retries: number }> {
  const counter = { retries: 0 };
  const result = await retryScope.run(counter, async (): Promise<PromiseSettledResult<T>> => {
    try {
      return { status: 'fulfilled', value: await fn() };
    } catch (reason) {
      return { status: 'rejected', reason };
    }
  });
  return { result, retries: counter.retries };
}

/**
 * Whether a failed call may succeed if sent again. Retried: throttling (`Throttling`, `Throttling.User`,
 * `Throttling.Api`, KMS `Rejected.Throttling`, HTTP 429), `ServiceUnavailable` and other 5xx answers,
 * and network failures (no answer). Never retried: every other 4xx — signature, AccessKey, permission,
 * not found, invalid parameter — which the same request would only meet again. This is the split the
 * V2 SDKs document (alibabacloud.com/help/en/sdk/developer-reference/handle-an-exception-1: ClientException
 * 4xx → fix the request; ServerException 5xx and ThrottlingException → retry; "configure-a-retry-mechanism-1":
 * business errors such as parameter errors and missing resources are not retried) and that openapi-core
 * encodes (aliyun/darabonba-openapi ts/src/exceptions: ThrottlingError, ServerError). The throttling codes are
 * the gateway's (`Throttling`, `Throttling.User`, `Throttling.Api`, shared by CR, STS and CS) and KMS's own
 * `Rejected.Throttling`.
 * A non-idempotent call is retried only on throttling, the one failure that proves it was not executed.
 */
export function isTransient(err: CloudError, idempotent = true): boolean {
  const throttled = /(^|\.)Throttling/i.test(err.code) || err.statusCode === 429;
  if (throttled) return true;
  if (!idempotent) return false;
  if (err.code === 'ServiceUnavailable') return true;
  // The same host would be refused again, and would answer the same again.
  if (err.code === 'EndpointRefused' || err.code === 'ResponseRefused') return false;
  if (err.statusCode !== undefined) return err.statusCode >= 500;
  return err.code !== 'UnexpectedResponse' && err.code !== 'NoCredentials';
}

/** OpenApiCaller over the real SDK. Clients are cached per (product, region) for the run. */
export class SdkOpenApiCaller implements OpenApiCaller {
  private readonly clients = new Map<string, { sdk: SdkClass<SdkClient>; client: SdkClient }[]>();
  private readonly runtime: InstanceType<typeof RuntimeOptions>;
  private readonly retryPolicy: RetryPolicy;

  constructor(private readonly opts: OpenApiOptions) {
    const timeout = opts.timeoutMs ?? 10_000;
    // autoretry off: retries are ours (see the module comment).
    this.runtime = new RuntimeOptions({ readTimeout: timeout, connectTimeout: timeout, autoretry: false });
    this.retryPolicy = opts.retry ?? OPENAPI_RETRY;
  }

  async rpc(call: RpcCall): Promise<Record<string, unknown>> {
    return this.send(
      { ...call, idempotent: call.idempotent ?? true },
      { pathname: '/', method: 'POST', style: 'RPC', reqBodyType: 'formData' },
      call.query,
    );
  }

  async roa(call: RoaCall): Promise<Record<string, unknown>> {
    // Reads, and replace-all writes that say so, may be sent again.
    return this.send(
      { ...call, idempotent: call.idempotent ?? call.method === 'GET' },
      {
        pathname: call.pathname,
        method: call.method,
        style: 'ROA',
        reqBodyType: 'json',
        bodyType: call.bodyType ?? 'json',
      },
      call.query ?? {},
      call.body,
    );
  }

  async sdk<C extends SdkClient, R>(call: SdkCall<C, R>): Promise<R> {
    return this.withRetries(call, () =>
      call.send(this.checkedClient(call.product, call.region, call.sdk, call.accountId), this.runtime),
    );
  }

  /** An RPC or ROA call through the base client's `callApi`, as the generated SDKs make it. */
  private async send(
    call: CallInfo & { version: string },
    style: {
      pathname: string;
      method: string;
      style: 'RPC' | 'ROA';
      reqBodyType: 'formData' | 'json';
      bodyType?: 'json' | 'array';
    },
    query: Record<string, string | number | boolean | undefined>,
    body?: unknown,
  ): Promise<Record<string, unknown>> {
    const params = new Params({
      action: call.action,
      version: call.version,
      protocol: 'HTTPS',
      authType: 'AK',
      bodyType: 'json',
      ...style,
    });
    const request = new OpenApiRequest({ query: stringify(query), ...(body === undefined ? {} : { body }) });
    return this.invoke(call, (client) => client.callApi(params, request, this.runtime));
  }

  /** Sends a call and returns its JSON body. */
  private async invoke(
    call: CallInfo,
    send: (client: SdkClient) => Promise<unknown>,
  ): Promise<Record<string, unknown>> {
    return this.withRetries(call, async () => {
      const res = (await send(this.checkedClient(call.product, call.region))) as { body?: unknown };
      if (res.body === null || typeof res.body !== 'object') {
        throw new CloudError(`${call.action}: unexpected response (not a JSON object)`, { code: 'UnexpectedResponse' });
      }
      return res.body as Record<string, unknown>;
    });
  }

  /** Runs a call, retrying transient failures per the policy; each try is signed anew (fresh nonce and date). */
  private withRetries<T>(call: CallInfo, attemptOnce: () => Promise<T>): Promise<T> {
    const path = `${call.product} ${call.action} (${call.region})`;
    const method = (call as { method?: string }).method ?? 'POST';
    const once = async () => {
      const started = Date.now();
      const report = (status: number) =>
        reportRequest({ api: 'openapi', method, path, status, durationMs: Date.now() - started });
      try {
        // Through a promise: a host refused before sending throws synchronously.
        const result = await Promise.resolve().then(attemptOnce);
        report(200);
        return result;
      } catch (err) {
        const cloud = toCloudError(call.action, err);
        report(cloud.statusCode ?? 0);
        throw cloud;
      }
    };
    return retry(once, {
      policy: this.retryPolicy,
      classify: (err) => (err instanceof CloudError && isTransient(err, call.idempotent ?? true) ? 'retry' : 'stop'),
      onRetry: (err) => {
        const counter = retryScope.getStore();
        if (counter) counter.retries++;
        const code = err instanceof CloudError ? err.code : 'error';
        reportRequest({ api: 'openapi', method, path, status: 0, durationMs: 0, retry: code });
      },
    });
  }

  /**
   * The client of a call, its host checked right before the request: the host the SDK will send to (its
   * `endpoint`, which the request's Host header and URL are built from) must still be one fleet.yaml allows.
   */
  private checkedClient<C extends SdkClient>(
    product: Product,
    region: string,
    sdk?: SdkClass<C>,
    accountId?: string,
  ): C {
    const client = this.client(product, region, sdk, accountId);
    checkEndpoint(this.opts.endpoints, product, client._endpoint, client._protocol || 'https');
    return client;
  }

  /** One client per (product, region, account, SDK class) for the run, so connections and credentials are reused. */
  private client<C extends SdkClient>(
    product: Product,
    region: string,
    sdk: SdkClass<C> = Client as unknown as SdkClass<C>,
    accountId?: string,
  ): C {
    const key = `${product}/${region}/${accountId ?? ''}`;
    const list = this.clients.get(key) ?? [];
    const found = list.find((c) => c.sdk === (sdk as unknown));
    if (found) return found.client as C;
    const endpoint = resolveEndpoint(this.opts.endpoints, product, region, accountId);
    capCloudResponses();
    const client = new sdk(
      new Config({
        credential: this.opts.credential,
        endpoint: endpoint.host,
        protocol: endpoint.protocol,
        regionId: region,
      }),
    );
    list.push({ sdk: sdk as unknown as SdkClass<SdkClient>, client });
    this.clients.set(key, list);
    return client;
  }
}

interface CallInfo {
  product: Product;
  region: string;
  action: string;
  idempotent?: boolean;
}

function stringify(q: Record<string, string | number | boolean | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined) out[k] = String(v);
  return out;
}

/** SDK error → CloudError `Action: Code (HTTP n): Message`, without request text or URLs. */
export function toCloudError(action: string, err: unknown): CloudError {
  if (err instanceof CloudError) return err;
  // Refused before sending (a host fleet.yaml does not allow, no credentials) or while reading (an answer past
  // the cap): no retry can help.
  if (err instanceof EndpointRefused || err instanceof ResponseRefused || err instanceof NoCredentialsError)
    return new CloudError(`${action}: ${err.message}`, { code: err.code, cause: err });
  const e = (err ?? {}) as {
    code?: unknown;
    statusCode?: unknown;
    data?: Record<string, unknown>;
    message?: unknown;
    name?: unknown;
  };
  const status =
    typeof e.statusCode === 'number'
      ? e.statusCode
      : typeof e.data?.statusCode === 'number'
        ? e.data.statusCode
        : undefined;
  const requestId = pickString(e.data, 'RequestId', 'requestId');
  if (status !== undefined) {
    // The service's words are quoted, not trusted (control characters removed, length bounded).
    const code = quoteRemote(
      pickString(e.data, 'Code', 'code') ?? (typeof e.code === 'string' ? e.code : 'Unknown'),
      64,
    );
    const message = quoteRemote(sanitize(pickString(e.data, 'Message', 'message') ?? ''));
    return new CloudError(`${action}: ${code} (HTTP ${status})${message ? `: ${message}` : ''}`, {
      code,
      statusCode: status,
      requestId,
      cause: err,
    });
  }
  // No HTTP answer: a network error. Name the errno, never the URL (it carries the query).
  const errno = typeof e.code === 'string' ? e.code : undefined;
  const text = typeof e.message === 'string' ? e.message : String(err);
  const known = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|socket hang up|timeout)\b/i.exec(
    text,
  )?.[1];
  const reason = errno ?? known ?? 'request failed';
  return new CloudError(`${action}: ${reason} (endpoint not reachable)`, { code: errno ?? 'NetworkError', cause: err });
}

function pickString(o: Record<string, unknown> | undefined, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = o?.[k];
    if (typeof v === 'string' && v) return v;
  }
  return undefined;
}

/** Cuts a service message where it starts quoting the signed request. */
function sanitize(message: string): string {
  const cut = message.search(/server string to sign is/i);
  return (cut >= 0 ? message.slice(0, cut) : message).trim().replace(/\s+/g, ' ');
}
