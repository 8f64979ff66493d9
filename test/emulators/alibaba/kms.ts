/**
 * KMS Secrets Manager, API 2016-01-20: RPC, parameters in the query or a form body (both accepted).
 * Shapes from aliyun/alibabacloud-typescript-sdk kms-20160120 models; error table from the CreateSecret API doc
 * (403 Forbidden.NoPermission, 404 Forbidden.ResourceNotFound, 409 Rejected.ResourceExist, 400 InvalidParameter).
 */
import { ApiError } from './errors.js';
import { isoSeconds } from './identity.js';
import type { Context, Operation, ProductModule } from './server.js';

const VERSION = '2016-01-20';

/** One version of a secret. */
interface SecretVersion {
  versionId: string;
  data: string;
  dataType: 'text' | 'binary';
  createTime: number;
  stages: string[];
}

/** A secret with its versions in creation order. */
interface Secret {
  accountId: string;
  region: string;
  name: string;
  versions: SecretVersion[];
}

/** The message SDK users observe at runtime (`code: 404, Resource not found`), reference §4. */
const notFound = (): ApiError => new ApiError(404, 'Forbidden.ResourceNotFound', 'Resource not found');
const exists = (): ApiError => new ApiError(409, 'Rejected.ResourceExist', 'The resource already exists.');
const invalid = (): ApiError => new ApiError(400, 'InvalidParameter', 'The specified parameter is invalid.');

const required = (ctx: Context, name: string): string => {
  const v = ctx.params[name];
  if (v === undefined || v === '') throw invalid();
  return v;
};

/** Secrets per (account, region, name). */
export class Kms implements ProductModule {
  readonly product = 'kms' as const;
  private readonly secrets = new Map<string, Secret>();

  /** KMS's RAM denial. */
  denied(): ApiError {
    return new ApiError(403, 'Forbidden.NoPermission', 'You are not authorized to perform the operation.');
  }

  private key(accountId: string, region: string, name: string): string {
    return `${accountId}/${region}/${name}`;
  }

  /** Accepts a secret name or its ARN `acs:kms:<region>:<uid>:secret/<name>`. */
  private nameOf(ref: string): string {
    const m = /^acs:kms:[^:]*:[^:]*:secret\/(.+)$/.exec(ref);
    return m?.[1] ?? ref;
  }

  private arn(ctx: Context, name: string): string {
    return `acs:kms:${ctx.region}:${ctx.requireCaller().accountId}:secret/${name}`;
  }

  /** Adds a version that becomes ACSCurrent; the previous current one becomes ACSPrevious. */
  private addVersion(
    secret: Secret,
    versionId: string,
    data: string,
    dataType: 'text' | 'binary',
    now: number,
  ): SecretVersion {
    for (const v of secret.versions) v.stages = v.stages.includes('ACSCurrent') ? ['ACSPrevious'] : [];
    const version: SecretVersion = { versionId, data, dataType, createTime: now, stages: ['ACSCurrent'] };
    secret.versions.push(version);
    return version;
  }

  /** Seeds a secret or adds a new current version to it (test helper). */
  put(o: { accountId: string; region: string; name: string; data: string; dataType?: 'text' | 'binary' }): void {
    const k = this.key(o.accountId, o.region, o.name);
    let secret = this.secrets.get(k);
    if (!secret) {
      secret = { accountId: o.accountId, region: o.region, name: o.name, versions: [] };
      this.secrets.set(k, secret);
    }
    this.addVersion(secret, `v${secret.versions.length + 1}`, o.data, o.dataType ?? 'text', Date.now());
  }

  /** Current data and all version ids of a secret (test helper). */
  get(accountId: string, region: string, name: string): { data: string; versions: string[] } | undefined {
    const secret = this.secrets.get(this.key(accountId, region, name));
    const current = secret?.versions.find((v) => v.stages.includes('ACSCurrent'));
    return secret && current ? { data: current.data, versions: secret.versions.map((v) => v.versionId) } : undefined;
  }

  private lookup(ctx: Context, name: string): Secret {
    const secret = this.secrets.get(this.key(ctx.requireCaller().accountId, ctx.region, name));
    if (!secret) throw notFound();
    return secret;
  }

  private dataType(ctx: Context): 'text' | 'binary' {
    const t = ctx.params.SecretDataType ?? 'text';
    if (t !== 'text' && t !== 'binary') throw invalid();
    return t;
  }

  readonly operations: Operation[] = [
    {
      action: 'GetSecretValue',
      version: VERSION,
      handle: (ctx) => {
        const name = this.nameOf(required(ctx, 'SecretName'));
        ctx.authorize('kms:GetSecretValue', this.arn(ctx, name));
        const secret = this.lookup(ctx, name);
        const stage = ctx.params.VersionStage || 'ACSCurrent';
        const versionId = ctx.params.VersionId;
        const version = secret.versions.find((v) => (versionId ? v.versionId === versionId : v.stages.includes(stage)));
        if (!version) throw notFound();
        return {
          RequestId: ctx.requestId,
          SecretName: secret.name,
          VersionId: version.versionId,
          CreateTime: isoSeconds(version.createTime),
          SecretData: version.data,
          SecretDataType: version.dataType,
          SecretType: 'Generic',
          VersionStages: { VersionStage: [...version.stages] },
        };
      },
    },
    {
      action: 'CreateSecret',
      version: VERSION,
      handle: (ctx) => {
        const name = required(ctx, 'SecretName');
        const data = required(ctx, 'SecretData');
        const versionId = required(ctx, 'VersionId');
        const dataType = this.dataType(ctx);
        ctx.authorize('kms:CreateSecret', this.arn(ctx, name));
        const caller = ctx.requireCaller();
        const k = this.key(caller.accountId, ctx.region, name);
        if (this.secrets.has(k)) throw exists();
        const secret: Secret = { accountId: caller.accountId, region: ctx.region, name, versions: [] };
        this.secrets.set(k, secret);
        this.addVersion(secret, versionId, data, dataType, ctx.now);
        return {
          RequestId: ctx.requestId,
          Arn: this.arn(ctx, name),
          VersionId: versionId,
          SecretName: name,
          SecretType: 'Generic',
        };
      },
    },
    {
      action: 'PutSecretValue',
      version: VERSION,
      handle: (ctx) => {
        const name = this.nameOf(required(ctx, 'SecretName'));
        const data = required(ctx, 'SecretData');
        const versionId = required(ctx, 'VersionId');
        const dataType = this.dataType(ctx);
        ctx.authorize('kms:PutSecretValue', this.arn(ctx, name));
        const secret = this.lookup(ctx, name);
        if (secret.versions.some((v) => v.versionId === versionId)) throw exists();
        const version = this.addVersion(secret, versionId, data, dataType, ctx.now);
        return {
          RequestId: ctx.requestId,
          SecretName: name,
          VersionId: versionId,
          VersionStages: { VersionStage: [...version.stages] },
        };
      },
    },
    {
      action: 'DeleteSecret',
      version: VERSION,
      handle: (ctx) => {
        const name = this.nameOf(required(ctx, 'SecretName'));
        ctx.authorize('kms:DeleteSecret', this.arn(ctx, name));
        const secret = this.lookup(ctx, name);
        this.secrets.delete(this.key(secret.accountId, secret.region, secret.name));
        const force = ctx.params.ForceDeleteWithoutRecovery === 'true';
        const days = Number(ctx.params.RecoveryWindowInDays ?? '30') || 30;
        // Without force the real service keeps the secret in a recovery window; here it is gone at once.
        return {
          RequestId: ctx.requestId,
          SecretName: name,
          ...(force ? {} : { PlannedDeleteTime: isoSeconds(ctx.now + days * 86_400_000) }),
        };
      },
    },
  ];
}
