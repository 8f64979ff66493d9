/**
 * Function Compute 3.0 (API 2023-03-30) through the vendor's SDK (`@alicloud/fc20230330`): InvokeFunction,
 * used to fan a large fleet out into one asynchronous invocation per shard. `@alicloud/fc2` speaks only the
 * FC 2.0 API (services/functions paths, `FC` signature), which functions deployed by the fc3 component do
 * not answer; the 2023-03-30 SDK signs with ACS3 like every other call of the OpenAPI caller.
 */
import { Readable } from 'node:stream';
import FcModule from '@alicloud/fc20230330';
import type { OpenApiCaller } from './openapi.js';

const { default: FcClient, InvokeFunctionHeaders, InvokeFunctionRequest } = FcModule;

/** Where the function lives: FC's invocation endpoint is per account and region. */
export interface FunctionRef {
  accountId: string;
  region: string;
  name: string;
  /** Version or alias; FC's default (LATEST) when absent. */
  qualifier?: string;
}

export class FcApi {
  constructor(private readonly api: OpenApiCaller) {}

  /** Queues one asynchronous invocation of `fn` with `payload` as its event; resolves with FC's request id. */
  async invokeAsync(fn: FunctionRef, payload: string): Promise<string | undefined> {
    const headers = new InvokeFunctionHeaders({ xFcInvocationType: 'Async' });
    const res = await this.api.sdk({
      product: 'fc',
      region: fn.region,
      accountId: fn.accountId,
      action: 'InvokeFunction',
      // Queuing twice would run the shard twice: only throttling (proof it was not queued) is retried.
      idempotent: false,
      sdk: FcClient,
      // The body is a stream: a new one for every try.
      send: (c, rt) =>
        c.invokeFunctionWithOptions(
          fn.name,
          new InvokeFunctionRequest({
            body: Readable.from([Buffer.from(payload)]),
            ...(fn.qualifier ? { qualifier: fn.qualifier } : {}),
          }),
          headers,
          rt,
        ),
    });
    res.body?.resume(); // an async invocation answers with an empty body; drain it so the socket is reused
    return res.headers?.['x-fc-request-id'];
  }
}
