/** KMS Secrets Manager (2016-01-20): reading a secret's current value. */
import { CloudError } from '../errors.js';
import type { OpenApiCaller } from './openapi.js';

export class KmsApi {
  constructor(private readonly api: OpenApiCaller) {}

  /** The ACSCurrent value of a secret (text). The value is held in memory only. */
  async secretValue(region: string, secretName: string): Promise<string> {
    const action = 'GetSecretValue';
    const body = await this.api.rpc({ product: 'kms', region, action, version: '2016-01-20', query: { SecretName: secretName, VersionStage: 'ACSCurrent' } });
    if (typeof body.SecretData !== 'string') throw new CloudError(`${action}: unexpected response (no SecretData)`, 'UnexpectedResponse', undefined, str(body.RequestId));
    return body.SecretDataType === 'binary' ? Buffer.from(body.SecretData, 'base64').toString('utf8') : body.SecretData;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
