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

export class Fc implements ProductModule {
  readonly product = 'fc' as const;
  private readonly functions = new Map<string, FcFunction>();
  readonly asyncInvocations: AsyncInvocation[] = [];
  private readonly pending = new Set<Promise<void>>();

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
        if (type === 'Async') {
          const requestId = randomUUID();
          this.queue(fn, event, requestId);
          return new RawResponse(202, { 'x-fc-request-id': requestId }, '');
        }
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
      while (record.attempts < attempts) {
        record.attempts++;
        try {
          record.result = await fn.handler(event, this.context(fn, requestId));
          record.status = 'succeeded';
          delete record.error;
          return;
        } catch (err) {
          record.status = 'failed';
          record.error = err instanceof Error ? err.message : String(err);
        }
      }
    })();
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
  }
}
