/**
 * Function Compute entry of the admission webhook (`index.webhook`, behind an HTTP trigger): turns the
 * FC 3.0 HTTP-trigger event into a request for {@link WebhookService} and its answer into the response
 * struct FC maps back onto HTTP. A warm instance keeps one service (and its caches) per config file;
 * a change of the function's role credentials rebuilds it. Never logs the URL (it carries the secret).
 *
 * Event and response formats: "Use an HTTP trigger to invoke a function" (FC 3.0, built-in runtimes),
 * https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/user-guide/http-trigger-invoking-function
 */
import { credentialFromFc, type CredentialClient } from '../cloud/credentials.js';
import { KmsApi } from '../cloud/kms.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { createLogger, Redactor } from '../log/logger.js';
import { json, WebhookService, type WebhookClientFactory, type WebhookResponse } from '../webhook/service.js';
import { configFile, loadFunctionFleet, toStdout, type FcContext, type LineWriter } from './fc-context.js';
import { routeDebugOutput } from './debug-output.js';
import { createRunDeps } from './runtime.js';

/** The FC 3.0 HTTP-trigger event (payload format v1), the parts the webhook reads. */
export interface FcHttpEvent {
  version?: string;
  rawPath?: string;
  body?: string;
  isBase64Encoded?: boolean;
  headers?: Record<string, string>;
  queryParameters?: Record<string, string>;
  requestContext?: { http?: { method?: string; path?: string } };
}

/** The response struct FC turns into the HTTP response. */
export interface FcHttpResponse extends WebhookResponse {
  isBase64Encoded: boolean;
}

let instance: { key: string; service: WebhookService; redactor: Redactor } | undefined;

/** The webhook handler. Never throws: every failure is an HTTP status. */
export async function webhook(
  event: Buffer | string,
  context: FcContext,
  write: LineWriter = toStdout,
): Promise<FcHttpResponse> {
  const file = configFile();
  const creds = context.credentials;
  const key = JSON.stringify([file, creds.accessKeyId, creds.securityToken ?? '']);
  const redactor = instance?.key === key ? instance.redactor : new Redactor();
  redactor.add(creds.accessKeySecret);
  redactor.add(creds.securityToken);
  routeDebugOutput(redactor);
  const log = createLogger({ format: 'json', write, redactor, base: { requestId: context.requestId } });

  let request;
  try {
    request = parseEvent(event);
  } catch {
    return respond(json(400, { message: 'not an HTTP trigger event' }));
  }
  if (instance?.key !== key) {
    const previous = instance;
    instance = undefined;
    await previous?.service.close();
    try {
      // An unusable config is logged there.
      const fleet = await loadFunctionFleet(file, context, log);
      instance = {
        key,
        redactor,
        service: new WebhookService(
          { fleet, redactor, clients: webhookClients(credentialFromFc(creds), redactor) },
          log,
        ),
      };
    } catch {
      return respond(json(500, { message: 'invalid configuration' }));
    }
  }
  return respond(await instance.service.handle(request, log));
}

/** Drops the warm state (the next call loads everything again), as a new FC instance would. */
export async function resetWebhookInstance(): Promise<void> {
  const previous = instance;
  instance = undefined;
  await previous?.service.close();
}

/** The deployed function's clients: the role's credential, kubeconfigs from KMS or ACK only (no files). */
function webhookClients(credential: CredentialClient, redactor: Redactor): WebhookClientFactory {
  return (fleet, log) => ({
    ...createRunDeps({ fleet, credential, log, redactor, allowFileKubeconfig: false }),
    kms: new KmsApi(new SdkOpenApiCaller({ endpoints: fleet.endpoints, credential })),
  });
}

function parseEvent(event: Buffer | string): { method: string; path: string; body: string } {
  const e = JSON.parse(event.toString()) as FcHttpEvent;
  const raw = e.body ?? '';
  return {
    method: e.requestContext?.http?.method ?? 'GET',
    // requestContext.http.path is the decoded path; rawPath keeps the encoding the secret was made with.
    path: e.rawPath ?? e.requestContext?.http?.path ?? '/',
    body: e.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw,
  };
}

function respond(r: WebhookResponse): FcHttpResponse {
  return { ...r, isBase64Encoded: false };
}
