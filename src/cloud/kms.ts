/** KMS Secrets Manager (2016-01-20): reading a secret's current value. */
import { CloudError } from '../errors.js';
import type { OpenApiCaller } from './openapi.js';

export class KmsApi {
  constructor(private readonly api: OpenApiCaller) {}

  /** The ACSCurrent value of a secret (text). The value is held in memory only. */
  async secretValue(region: string, secretName: string): Promise<string> {
    const action = 'GetSecretValue';
    const body = await this.api.rpc({
      product: 'kms',
      region,
      action,
      version: '2016-01-20',
      query: { SecretName: secretName, VersionStage: 'ACSCurrent' },
    });
    if (typeof body.SecretData !== 'string')
      throw new CloudError(`${action}: unexpected response (no SecretData)`, {
        code: 'UnexpectedResponse',
        requestId: str(body.RequestId),
      });
    return body.SecretDataType === 'binary' ? Buffer.from(body.SecretData, 'base64').toString('utf8') : body.SecretData;
  }
}

/** The writes `register` and `deregister` make. */
export class KmsWriter {
  constructor(private readonly api: OpenApiCaller) {}

  /** Stores a secret: CreateSecret, or PutSecretValue (a new ACSCurrent version) when it exists. */
  async store(region: string, secretName: string, data: string, description: string): Promise<'created' | 'rotated'> {
    if (await this.create(region, secretName, data, description)) return 'created';
    await this.api.rpc({
      product: 'kms',
      region,
      action: 'PutSecretValue',
      version: '2016-01-20',
      query: { SecretName: secretName, SecretData: data, VersionId: `v${Date.now()}`, SecretDataType: 'text' },
      idempotent: false,
    });
    return 'rotated';
  }

  /**
   * Creates a secret only if it does not exist yet: false when it already does (someone else created it
   * first), and then nothing is written.
   */
  async create(region: string, secretName: string, data: string, description: string): Promise<boolean> {
    try {
      await this.api.rpc({
        product: 'kms',
        region,
        action: 'CreateSecret',
        version: '2016-01-20',
        query: {
          SecretName: secretName,
          SecretData: data,
          VersionId: `v${Date.now()}`,
          SecretDataType: 'text',
          Description: description,
        },
        // A CreateSecret that ran before its answer was lost would be retried into ResourceExist.
        idempotent: false,
      });
      return true;
    } catch (err) {
      if (err instanceof CloudError && err.code === 'Rejected.ResourceExist') return false;
      throw err;
    }
  }

  /** Deletes a secret at once; false when it did not exist. */
  async delete(region: string, secretName: string): Promise<boolean> {
    try {
      await this.api.rpc({
        product: 'kms',
        region,
        action: 'DeleteSecret',
        version: '2016-01-20',
        query: { SecretName: secretName, ForceDeleteWithoutRecovery: true },
      });
      return true;
    } catch (err) {
      if (err instanceof CloudError && err.code === 'Forbidden.ResourceNotFound') return false;
      throw err;
    }
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
