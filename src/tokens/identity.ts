/**
 * Whose identity fetches a registry's token: the function's own, an AccessKey pair kept in KMS, or
 * an RRSA OIDC session, optionally chained into AssumeRole (cross-account), as the add-on's modes.
 * Each distinct (identity chain, region) is resolved once per run and shared by its registries.
 */
import { readFile } from 'node:fs/promises';
import { credentialFromFc, type CredentialClient } from '../cloud/credentials.js';
import { KmsApi } from '../cloud/kms.js';
import type { OpenApiCaller } from '../cloud/openapi.js';
import { StsApi } from '../cloud/sts.js';
import type { Registry } from '../config/resolve.js';
import { AcrFleetError } from '../errors.js';

/** Makes an OpenAPI caller that signs with the given credential. */
export type CallerFactory = (credential: CredentialClient) => OpenApiCaller;

export interface IdentityOptions {
  /** Caller signing as the function's own identity (FC role or local default chain). */
  baseCaller: OpenApiCaller;
  callerFor: CallerFactory;
  /** Told every secret value obtained, so no output can carry it. */
  onSecret(value: string): void;
  readTokenFile?: (path: string) => Promise<string>;
}

export class RegistryIdentities {
  private readonly cache = new Map<string, Promise<OpenApiCaller>>();
  private readonly baseCaller: OpenApiCaller;

  constructor(private readonly opts: IdentityOptions) {
    this.baseCaller = opts.baseCaller;
  }

  /** The caller a registry's CR requests go through. */
  caller(registry: Registry): Promise<OpenApiCaller> {
    const spec = registry.credential;
    if (spec.base.kind === 'default' && !spec.assumeRole) return Promise.resolve(this.baseCaller);
    const key = JSON.stringify({ spec, region: registry.regionId });
    let p = this.cache.get(key);
    if (!p) {
      p = this.resolve(registry);
      this.cache.set(key, p);
    }
    return p;
  }

  private async resolve(registry: Registry): Promise<OpenApiCaller> {
    const { base, assumeRole } = registry.credential;
    const region = registry.regionId;
    let caller = this.baseCaller;
    if (base.kind === 'accessKey') {
      caller = this.opts.callerFor(await this.accessKeyFromKms(base.regionId, base.kmsSecret));
    } else if (base.kind === 'rrsa') {
      const oidcToken = await this.readOidcToken(base.tokenFile);
      const session = await new StsApi(this.baseCaller).assumeRoleWithOidc(region, {
        roleArn: base.roleArn,
        providerArn: base.providerArn,
        oidcToken,
      });
      caller = this.opts.callerFor(this.remember(session));
    }
    if (assumeRole) {
      const session = await new StsApi(caller).assumeRole(region, assumeRole);
      caller = this.opts.callerFor(this.remember(session));
    }
    return caller;
  }

  private async accessKeyFromKms(region: string, secretName: string): Promise<CredentialClient> {
    const where = `accessKey kmsSecret ${secretName}`;
    let text: string;
    try {
      text = await new KmsApi(this.baseCaller).secretValue(region, secretName);
    } catch (err) {
      throw new AcrFleetError(`${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.opts.onSecret(text);
    let pair: { AccessKeyId?: unknown; AccessKeySecret?: unknown };
    try {
      pair = JSON.parse(text) as typeof pair;
    } catch {
      throw new AcrFleetError(`${where}: expected JSON {"AccessKeyId","AccessKeySecret"}`);
    }
    if (typeof pair.AccessKeyId !== 'string' || typeof pair.AccessKeySecret !== 'string') {
      throw new AcrFleetError(`${where}: expected JSON {"AccessKeyId","AccessKeySecret"}`);
    }
    this.opts.onSecret(pair.AccessKeySecret);
    return credentialFromFc({ accessKeyId: pair.AccessKeyId, accessKeySecret: pair.AccessKeySecret });
  }

  private async readOidcToken(file: string): Promise<string> {
    try {
      const token = (await (this.opts.readTokenFile ?? ((f) => readFile(f, 'utf8')))(file)).trim();
      this.opts.onSecret(token);
      return token;
    } catch (err) {
      throw new AcrFleetError(
        `OIDC token file ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }

  private remember(session: { accessKeyId: string; accessKeySecret: string; securityToken: string }): CredentialClient {
    this.opts.onSecret(session.accessKeySecret);
    this.opts.onSecret(session.securityToken);
    return credentialFromFc(session);
  }
}
