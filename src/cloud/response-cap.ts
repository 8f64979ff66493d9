/**
 * Every answer from a cloud host is capped in bytes and never inflated (issue 15: a host a tenant controls
 * answered a 1.5 MB gzip bomb that inflates to 1.6 GB in the SDK).
 *
 * The SDKs give no hook on their transport: `@alicloud/openapi-client` reads bodies whole with tea-util
 * (no cap, no decoding), and `@alicloud/credentials` reads its STS and ECS-metadata answers with `httpx.read`,
 * which gunzips the whole body in memory. Node's `http.client.response.finish` diagnostics channel (public,
 * stable API) sees each response before any reader does, whoever made the request. For a cloud host it:
 * - refuses an answer with a `content-encoding` (acr-fleet never sends Accept-Encoding) or a `content-length`
 *   over the cap: the header is dropped so no reader inflates a byte, and the first reader gets the error;
 * - counts the body's bytes on the socket and destroys the response once they pass the cap.
 * A cloud request is one an Alibaba Cloud SDK makes, whatever its host (their User-Agent starts with
 * `AlibabaCloud (`: tea-util's and the credentials library's), and any request to `*.aliyuncs.com` or the ECS
 * metadata address. Kubernetes requests are none of these.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { CLOUD_DOMAIN } from './endpoints.js';

/** The most an OpenAPI answer may be, in bytes as received (and so decoded: nothing is inflated). */
export const RESPONSE_CAP_BYTES = 1024 * 1024;

/** A cloud answer that was refused before it could fill memory. */
export class ResponseRefused extends Error {
  readonly code = 'ResponseRefused';
}

const ECS_METADATA = '100.100.100.200';
let subscribed = false;

/** Caps every cloud answer of this process from now on; idempotent. Called by whoever builds a cloud client. */
export function capCloudResponses(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe('http.client.response.finish', (message) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    if (isCloudRequest(request)) guard(response);
  });
}

function isCloudRequest(request: ClientRequest): boolean {
  const agent = request.getHeader('user-agent');
  if (typeof agent === 'string' && agent.startsWith('AlibabaCloud (')) return true;
  const name = request.host.toLowerCase();
  return name.endsWith(`.${CLOUD_DOMAIN}`) || name === ECS_METADATA;
}

function guard(response: IncomingMessage): void {
  const encoding = response.headers['content-encoding'];
  const length = Number(response.headers['content-length'] ?? 0);
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    // Before anyone reads: httpx.read would pipe the body through gunzip on this header.
    delete response.headers['content-encoding'];
    return refuseOnRead(
      response,
      `answer encoded ${JSON.stringify(encoding.slice(0, 20))} refused (none was asked for)`,
    );
  }
  if (length > RESPONSE_CAP_BYTES) return refuseOnRead(response, tooLarge(length));
  const socket = response.socket;
  if (!socket) return;
  let seen = 0;
  const count = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen <= RESPONSE_CAP_BYTES) return;
    stop();
    response.destroy(new ResponseRefused(tooLarge(seen)));
  };
  const stop = (): void => {
    socket.off('data', count);
  };
  socket.on('data', count);
  response.once('end', stop);
  response.once('close', stop);
}

const tooLarge = (bytes: number) => `answer of ${bytes} bytes or more refused (the cap is ${RESPONSE_CAP_BYTES})`;

/**
 * Fails the response for its reader. A response errors only towards a listener (Node drops the error
 * otherwise), so it is destroyed once a reader attaches one, before the body starts to flow.
 */
function refuseOnRead(response: IncomingMessage, reason: string): void {
  const onListener = (event: string | symbol): void => {
    if (event !== 'error' && event !== 'data' && event !== 'readable') return;
    response.off('newListener', onListener);
    process.nextTick(() => response.destroy(new ResponseRefused(reason)));
  };
  response.on('newListener', onListener);
}
