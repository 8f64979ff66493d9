/**
 * Function Compute 3.0, API 2023-03-30: `InvokeFunction`, ROA `POST /2023-03-30/functions/{name}/invocations`
 * (`@alicloud/fc20230330` 3.1.0 invokeFunctionWithOptions: body sent as the raw event, `bodyType: binary`;
 * headers `x-fc-invocation-type: Sync|Async`, `x-fc-log-type`; query `qualifier`). The emulator runs a
 * registered handler in-process, as FC runs the function: `(event: Buffer, context)`, with the function
 * role's STS credentials in `context.credentials` (shared/reference/alibaba-openapi.md §6b).
 *
 * - Sync: 200, the handler's return value as the body (JSON, or the Buffer/string as is). A handler that
 *   throws: 200 with `x-fc-error-type: UnhandledInvocationError` and `{"errorMessage","errorType"}`
 *   (FC's documented unhandled-error response).
 * - Async: 202 with an empty body, the event queued; the handler runs after the response, retried up to
 *   `maxAsyncRetryAttempts` (fc3 schema default 3) times when it throws. `settled()` waits for the queue.
 * - RAM: `fc:InvokeFunction` on `acs:fc:<region>:<account>:functions/<name>` (FC 3.0 RAM authorization table
 *   of InvokeFunction). Denial: 403 `AccessDenied` (code as FC 3.0's error list; message UNCONFIRMED).
 * - Unknown function: 404 `FunctionNotFound`. The real invocation host names the account
 *   (`<uid>.<region>.fc.aliyuncs.com`); the emulator's one listener per region looks the function up in
 *   the caller's account instead.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from './errors.js';
import type { Iam } from './identity.js';
import { RawResponse, type Operation, type ProductModule } from './server.js';

/** The FC 3.0 context fields acr-fleet reads (reference §6b). */
export interface FcInvocationContext {
  requestId: string;
  credentials: { accessKeyId: string; accessKeySecret: string; securityToken?: string };
  region: string;
  accountId: string;
  function: { name: string };
}

/** A function's code: what FC calls with each event. */
export type FcHandler = (event: Buffer, context: FcInvocationContext) => Promise<unknown>;

/** A deployed function. */
export interface FcFunction {
  accountId: string;
  region: string;
  name: string;
  /** The function's role (its ARN): context.credentials are a session of it. */
  role: string;
  handler: FcHandler;
  /** asyncInvokeConfig.maxAsyncRetryAttempts; default 3. */
  maxAsyncRetryAttempts?: number;
}

/** One asynchronous invocation and how it ended. */
export interface AsyncInvocation {
  requestId: string;
  function: string;
  event: string;
  attempts: number;
  status: 'queued' | 'succeeded' | 'failed';
  result?: unknown;
  error?: string;
}

/** Largest event FC 3.0 accepts: 32 MB synchronous, 128 KB asynchronous (FC limits doc 2527064). */
export const MAX_SYNC_PAYLOAD = 32 * 1024 * 1024;
export const MAX_ASYNC_PAYLOAD = 128 * 1024;

/** On-demand instances of one account in one region: quota, in use now, and what the quota did. */
export interface FcInstanceUsage {
  /** The quota (undefined: unlimited, the emulator's default). */
  quota?: number;
  running: number;
  /** Most instances busy at once. */
  peak: number;
  /** Synchronous invocations refused with ResourceExhausted. */
  throttledSync: number;
  /** Asynchronous invocations that had to wait for an instance. */
  queuedAsync: number;
}

export class Fc implements ProductModule {
  readonly product = 'fc' as const;
  private readonly functions = new Map<string, FcFunction>();
  readonly asyncInvocations: AsyncInvocation[] = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly usage = new Map<string, FcInstanceUsage & { waiters: (() => void)[] }>();

  /**
   * Sets the account's on-demand instance quota in a region. Each running invocation holds one instance
   * (instance concurrency 1, FC 3.0's default): a synchronous call over the quota is refused with 429
   * ResourceExhausted, an asynchronous one waits in the queue until an instance frees up.
   */
  setQuota(accountId: string, region: string, instances: number | undefined): void {
    const u = this.usageOf(accountId, region);
    if (instances === undefined) delete u.quota;
    else u.quota = instances;
    this.wake(u);
  }

  /** Instance usage of an account in a region. */
  instanceUsage(accountId: string, region: string): FcInstanceUsage {
    const { waiters: _w, ...u } = this.usageOf(accountId, region);
    return { ...u };
  }

  private usageOf(accountId: string, region: string): FcInstanceUsage & { waiters: (() => void)[] } {
    const key = `${accountId}/${region}`;
    let u = this.usage.get(key);
    if (!u) {
      u = { running: 0, peak: 0, throttledSync: 0, queuedAsync: 0, waiters: [] };
      this.usage.set(key, u);
    }
    return u;
  }

  private free(u: FcInstanceUsage): boolean {
    return u.quota === undefined || u.running < u.quota;
  }

  private hold(u: FcInstanceUsage): void {
    u.running++;
    u.peak = Math.max(u.peak, u.running);
  }

  private release(u: FcInstanceUsage & { waiters: (() => void)[] }): void {
    u.running--;
    this.wake(u);
  }

  private wake(u: FcInstanceUsage & { waiters: (() => void)[] }): void {
    while (u.waiters.length && this.free(u)) {
      this.hold(u);
      u.waiters.shift()?.();
    }
  }

  /** Resolves once an instance is held for an async run (queued while the quota is used up). */
  private async acquire(u: FcInstanceUsage & { waiters: (() => void)[] }): Promise<void> {
    if (this.free(u) && !u.waiters.length) {
      this.hold(u);
      return;
    }
    u.queuedAsync++;
    await new Promise<void>((resolve) => u.waiters.push(resolve));
  }

  constructor(private readonly iam: Iam) {}

  add(fn: FcFunction): void {
    this.functions.set(`${fn.accountId}/${fn.region}/${fn.name}`, fn);
  }

  /** Resolves when every queued asynchronous invocation has finished, including those queued meanwhile. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  denied(_caller: unknown, ramAction: string, resource: string): ApiError {
    return new ApiError(403, 'AccessDenied', `You are not authorized to perform ${ramAction} on ${resource}.`);
  }

  readonly operations: Operation[] = [
    {
      action: 'InvokeFunction',
      version: '2023-03-30',
      roa: { method: 'POST', path: /^\/2023-03-30\/functions\/([^/]+)\/invocations$/ },
      handle: async (ctx) => {
        const name = ctx.pathParams[0] ?? '';
        const caller = ctx.requireCaller();
        ctx.authorize('fc:InvokeFunction', `acs:fc:${ctx.region}:${caller.accountId}:functions/${name}`);
        const fn = this.functions.get(`${caller.accountId}/${ctx.region}/${name}`);
        if (!fn) throw new ApiError(404, 'FunctionNotFound', `function '${name}' does not exist`);
        const qualifier = ctx.params.qualifier;
        if (qualifier !== undefined && qualifier !== 'LATEST')
          throw new ApiError(404, 'VersionNotFound', `version '${qualifier}' does not exist`);
        const type = ctx.headers['x-fc-invocation-type'] ?? 'Sync';
        if (type !== 'Sync' && type !== 'Async')
          throw new ApiError(
            400,
            'InvalidArgument',
            `x-fc-invocation-type '${type}' is invalid: expected Sync or Async`,
          );
        const event = ctx.body;
        const max = type === 'Async' ? MAX_ASYNC_PAYLOAD : MAX_SYNC_PAYLOAD;
        if (event.length > max)
          throw new ApiError(400, 'EntityTooLarge', `payload size exceeds maximum allowed size (${max} bytes)`);
        const usage = this.usageOf(fn.accountId, fn.region);
        if (type === 'Async') {
          const requestId = randomUUID();
          this.queue(fn, event, requestId);
          return new RawResponse(202, { 'x-fc-request-id': requestId }, '');
        }
        if (!this.free(usage)) {
          usage.throttledSync++;
          throw new ApiError(
            429,
            'ResourceExhausted',
            `Resource exhausted: the on-demand instances of this account in ${fn.region} are all busy (quota ${usage.quota ?? 0}).`,
          );
        }
        this.hold(usage);
        try {
          const result = await fn.handler(event, this.context(fn, ctx.requestId));
          const body = Buffer.isBuffer(result) || typeof result === 'string' ? result : JSON.stringify(result ?? null);
          return new RawResponse(200, { 'x-fc-request-id': ctx.requestId }, body);
        } catch (err) {
          const e = err instanceof Error ? err : new Error(String(err));
          return new RawResponse(
            200,
            { 'x-fc-request-id': ctx.requestId, 'x-fc-error-type': 'UnhandledInvocationError' },
            JSON.stringify({ errorMessage: e.message, errorType: e.name }),
          );
        } finally {
          this.release(usage);
        }
      },
    },
  ];

  private context(fn: FcFunction, requestId: string): FcInvocationContext {
    return {
      requestId,
      credentials: this.iam.roleSession(fn.role),
      region: fn.region,
      accountId: fn.accountId,
      function: { name: fn.name },
    };
  }

  /** Runs the handler after the response, with FC's async retries. */
  private queue(fn: FcFunction, event: Buffer, requestId: string): void {
    const record: AsyncInvocation = {
      requestId,
      function: fn.name,
      event: event.toString('utf8'),
      attempts: 0,
      status: 'queued',
    };
    this.asyncInvocations.push(record);
    const run = (async () => {
      await new Promise((r) => setImmediate(r));
      const attempts = 1 + (fn.maxAsyncRetryAttempts ?? 3);
      const usage = this.usageOf(fn.accountId, fn.region);
      while (record.attempts < attempts) {
        record.attempts++;
        await this.acquire(usage);
        try {
          record.result = await fn.handler(event, this.context(fn, requestId));
          record.status = 'succeeded';
          delete record.error;
          return;
        } catch (err) {
          record.status = 'failed';
          record.error = err instanceof Error ? err.message : String(err);
        } finally {
          this.release(usage);
        }
      }
    })();
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
  }
}
