/**
 * Where the function's own Alibaba Cloud identity comes from: the FC context in the cloud, the
 * default credential chain (env, profile, ECS role...) locally.
 */
import CredentialModule from '@alicloud/credentials';
import { REGION } from '../config/rules.js';
import { AcrFleetError } from '../errors.js';
import { EndpointRefused } from './endpoints.js';
import { capCloudResponses } from './response-cap.js';

const { default: Credential, Config } = CredentialModule;
/** An @alicloud/credentials client, as the OpenAPI SDK takes it. */
export type CredentialClient = InstanceType<typeof Credential>;

/** `context.credentials` of a Function Compute invocation (the function's role session). */
export interface FcCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

/** Credentials from an FC context: an STS session when a token is present. */
export function credentialFromFc(c: FcCredentials): CredentialClient {
  return new Credential(
    new Config(
      c.securityToken
        ? {
            type: 'sts',
            accessKeyId: c.accessKeyId,
            accessKeySecret: c.accessKeySecret,
            securityToken: c.securityToken,
          }
        : { type: 'access_key', accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret },
    ),
  );
}

/**
 * The default chain found nothing (issue 17: this used to surface as `GetAuthorizationToken: ENOTFOUND`
 * after three retries, the chain's last provider being the ECS metadata host). Final: nothing to retry.
 */
export class NoCredentialsError extends AcrFleetError {
  override readonly name = 'NoCredentialsError';
  readonly code = 'NoCredentials';
  constructor(options: { cause?: unknown } = {}) {
    super(NO_CREDENTIALS, options);
  }
}

/** @alicloud/credentials' DefaultCredentialsProvider, in its order (2.4). */
export const NO_CREDENTIALS =
  'no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (with ALIBABA_CLOUD_SECURITY_TOKEN for an STS session); the default chain tried, in order: those variables, OIDC (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE), the aliyun CLI profile (~/.aliyun/config.json, ALIBABA_CLOUD_PROFILE), the credentials file (ALIBABA_CLOUD_CREDENTIALS_FILE, else ~/.alibabacloud/credentials), the ECS RAM role (ALIBABA_CLOUD_ECS_METADATA), ALIBABA_CLOUD_CREDENTIALS_URI';

/** The chain's "nothing found" error, by its text (the SDK gives it no code). */
function isChainExhausted(err: unknown): boolean {
  return (
    err instanceof Error && err.message.startsWith('unable to get credentials from any of the providers in the chain')
  );
}

/** Resolves the credential once: a NoCredentialsError when the chain finds nothing (the CLI's exit-2 preflight). */
export async function requireCredential(credential: CredentialClient): Promise<void> {
  await credential.getCredential();
}

/**
 * Credentials for a local run. The environment passed in wins (so a caller can hand over its own),
 * then the SDK's default chain (env, CLI profile, credentials file, ECS RAM role, URI). The chain's STS and
 * ECS-metadata answers are capped like every cloud answer (./response-cap.ts), and the STS region it builds
 * its host from must be a region id.
 */
export function credentialFromEnv(env: Record<string, string | undefined>): CredentialClient {
  capCloudResponses();
  // The chain reads process.env itself.
  for (const region of [env.ALIBABA_CLOUD_STS_REGION, process.env.ALIBABA_CLOUD_STS_REGION]) {
    if (region !== undefined && !REGION.test(region))
      throw new EndpointRefused(
        `ALIBABA_CLOUD_STS_REGION: ${JSON.stringify(region.slice(0, 64))} is not a region id; no request sent`,
      );
  }
  const accessKeyId = env.ALIBABA_CLOUD_ACCESS_KEY_ID;
  const accessKeySecret = env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
  if (accessKeyId && accessKeySecret) {
    const securityToken = env.ALIBABA_CLOUD_SECURITY_TOKEN;
    return credentialFromFc({ accessKeyId, accessKeySecret, ...(securityToken ? { securityToken } : {}) });
  }
  const chain = new Credential();
  const resolve = chain.getCredential.bind(chain);
  chain.getCredential = async () => {
    try {
      return await resolve();
    } catch (err) {
      throw isChainExhausted(err) ? new NoCredentialsError({ cause: err }) : err;
    }
  };
  return chain;
}
