/**
 * In-process emulator of the Alibaba Cloud OpenAPIs acr-fleet calls: CR (Enterprise 2018-12-01 and Personal
 * 2016-06-07), STS 2015-04-01, KMS 2016-01-20, ACK (CS 2015-12-15) and Function Compute 3.0 (2023-03-30). The real SDK clients talk to it over
 * HTTP(S); it verifies real signatures and answers with the real wire formats and error shapes.
 * See README.md beside this file for what mirrors which real behaviour.
 */
import { CrEnterprise } from './cr-ee.js';
import { CrPersonal } from './cr-pe.js';
import { Cs } from './cs.js';
import { Fc, type AsyncInvocation, type FcHandler } from './fc.js';
import { Iam, type Credentials } from './identity.js';
import { Kms } from './kms.js';
import { ApiServer, type Product, type RequestRecord } from './server.js';
import { Sts } from './sts.js';
import { personalHosts, type IssuedToken } from './tokens.js';

export type { Credentials } from './identity.js';
export type { AsyncInvocation, FcHandler, FcInvocationContext } from './fc.js';
export type { Product, RequestRecord } from './server.js';
export type { IssuedToken } from './tokens.js';

/** Options of {@link AlibabaEmulator.start}. */
export interface AlibabaEmulatorOptions {
  /** Regions to serve; default `['cn-hangzhou', 'cn-beijing', 'cn-shanghai']`. */
  regions?: string[];
  /** Serve HTTPS with test/emulators/tls/cert.pem; default false (HTTP). */
  tls?: boolean;
  /** Added to every request before it is handled (`npm run bench` uses 50 ms). Default 0. */
  latencyMs?: number;
}

const PRODUCTS: Product[] = ['cr', 'sts', 'kms', 'cs', 'fc'];

/** The emulator: identities, resources, faults, and one listener per (product, region). */
export class AlibabaEmulator {
  private readonly iam = new Iam();
  private readonly issued: IssuedToken[] = [];
  private readonly crEe = new CrEnterprise(this.issued);
  private readonly crPe = new CrPersonal(this.issued);
  private readonly kms = new Kms();
  private readonly cs = new Cs();
  private readonly fc = new Fc(this.iam);
  private readonly server: ApiServer;

  private constructor(
    private readonly regions: string[],
    tls: boolean,
    latencyMs: number,
  ) {
    this.server = new ApiServer(
      this.iam,
      [this.crEe, this.crPe, new Sts(this.iam), this.kms, this.cs, this.fc],
      regions,
      tls,
      latencyMs,
    );
  }

  /** Starts every listener on 127.0.0.1 (ephemeral ports). */
  static async start(opts: AlibabaEmulatorOptions = {}): Promise<AlibabaEmulator> {
    const emulator = new AlibabaEmulator(
      opts.regions ?? ['cn-hangzhou', 'cn-beijing', 'cn-shanghai'],
      opts.tls ?? false,
      opts.latencyMs ?? 0,
    );
    await emulator.server.start();
    return emulator;
  }

  /**
   * Base URL of one product in one region, e.g. http://127.0.0.1:41234 — each (product, region) pair gets its
   * own listener so that a request sent to the wrong region's endpoint behaves like the real one (e.g. the
   * instance is not found there).
   */
  endpoint(product: Product, region: string): string {
    return this.server.endpoint(product, region);
  }

  /** The `endpoints:` block for fleet.yaml: `{ cr: { 'cn-hangzhou': url, ... }, sts: {...}, kms: {...}, cs: {...} }`. */
  endpointsConfig(): Record<Product, Record<string, string>> {
    const out = {} as Record<Product, Record<string, string>>;
    for (const product of PRODUCTS) {
      out[product] = Object.fromEntries(this.regions.map((r) => [r, this.endpoint(product, r)]));
    }
    return out;
  }

  // ---- identities (RAM) ----

  /** Registers an account (idempotent). Its identities are added with addUser/addRole. */
  createAccount(accountId: string): void {
    this.iam.createAccount(accountId);
  }

  /**
   * The account's root (Alibaba Cloud account) AccessKey, allowed everything except AssumeRole.
   * Not in the original API brief: added so that "root accounts cannot assume roles" can be exercised.
   */
  rootCredentials(accountId: string): Credentials {
    return this.iam.rootCredentials(accountId);
  }

  /** A RAM user with an AccessKey, allowed `actions` (e.g. `['cr:GetAuthorizationToken']` or `['*']`) on `resources` (default `['*']`). */
  addUser(o: { accountId: string; name: string; actions: string[]; resources?: string[] }): Credentials {
    return this.iam.addUser(o);
  }

  /** A RAM role; returns its ARN `acs:ram::<uid>:role/<name>`. Without trustedPrincipals it trusts its own account. `policy` attaches a RAM policy document. */
  addRole(o: {
    accountId: string;
    name: string;
    actions: string[];
    resources?: string[];
    /** A RAM policy document attached besides `actions`/`resources` (its Allow statements). */
    policy?: { Statement: { Effect: string; Action: string | string[]; Resource: string | string[] }[] };
    trustedPrincipals?: string[];
    trustedOidcProviders?: { arn: string; issuer: string; audience?: string; subject?: string }[];
    maxSessionDuration?: number;
    externalId?: string;
  }): string {
    return this.iam.addRole(o);
  }

  /** STS credentials for a role as if FC gave them to the function (context.credentials); valid for ttlSeconds (default 3600; <= 0 gives expired ones). */
  roleSession(roleArn: string, ttlSeconds?: number): Credentials & { expiration: string } {
    return this.iam.roleSession(roleArn, ttlSeconds);
  }

  /** Registers an OIDC provider; its tokens are RS256 JWTs signed with a key of its own. Returns `acs:ram::<uid>:oidc-provider/<name>`. */
  addOidcProvider(o: { accountId: string; name: string; issuer: string }): string {
    return this.iam.addOidcProvider(o);
  }

  /** A signed JWT of the provider (aud default `sts.aliyuncs.com`); already expired when ttlSeconds <= 0. */
  oidcToken(o: { providerArn: string; subject: string; audience?: string; ttlSeconds?: number }): string {
    return this.iam.oidcToken(o);
  }

  // ---- Container Registry ----

  /** Enterprise Edition instance. Domains default to `<name>-registry.<region>.cr.aliyuncs.com` (internet) and `<name>-registry-vpc.<region>.cr.aliyuncs.com` (vpc). tokenTtlSeconds default 3600. */
  addEnterpriseInstance(o: {
    accountId: string;
    instanceId: string;
    name: string;
    region: string;
    domains?: { internet?: string[]; vpc?: string[] };
    tokenTtlSeconds?: number;
  }): void {
    this.crEe.add(o);
  }

  /** Personal Edition in one region for an account. `userExists: false` reproduces USER_NOT_EXIST (no CR password set). */
  enablePersonalEdition(o: {
    accountId: string;
    region: string;
    tokenTtlSeconds?: number;
    userExists?: boolean;
  }): void {
    this.crPe.enable(o);
  }

  /** Every registry token issued so far. */
  get tokens(): IssuedToken[] {
    return this.issued;
  }

  /**
   * True when (username, password) is a token this emulator issued, not yet expired, valid for `domain`
   * (a domain of the token's EE instance, or a Personal Edition host of the token's region).
   */
  canLogin(domain: string, username: string, password: string): boolean {
    const token = this.issued.find((t) => t.username === username && t.password === password);
    if (!token || Date.now() >= token.expiresAt) return false;
    const host = domain.toLowerCase();
    if (token.registry.startsWith('personal:')) return personalHosts(token.region).includes(host);
    const inst = this.crEe.instances.get(token.registry);
    return !!inst && [...inst.domains.internet, ...inst.domains.vpc].some((d) => d.toLowerCase() === host);
  }

  // ---- KMS Secrets Manager ----

  /** Creates a secret, or adds a new ACSCurrent version to an existing one. */
  putKmsSecret(o: {
    accountId: string;
    region: string;
    name: string;
    data: string;
    dataType?: 'text' | 'binary';
  }): void {
    this.kms.put(o);
  }

  /** The current data and every version id of a secret. */
  getKmsSecret(accountId: string, region: string, name: string): { data: string; versions: string[] } | undefined {
    return this.kms.get(accountId, region, name);
  }

  // ---- Container Service (ACK) ----

  /** An ACK cluster; `kubeconfig` renders the config for a requested TemporaryDurationMinutes. */
  addAckCluster(o: {
    accountId: string;
    region: string;
    clusterId: string;
    kubeconfig: (temporaryDurationMinutes: number) => string;
  }): void {
    this.cs.add(o);
  }

  // ---- Function Compute 3.0 ----

  /** Deploys a function: InvokeFunction runs `handler` in-process with a session of `role` as context.credentials. */
  addFunction(o: {
    accountId: string;
    region: string;
    name: string;
    role: string;
    handler: FcHandler;
    maxAsyncRetryAttempts?: number;
  }): void {
    this.fc.add(o);
  }

  /** Every asynchronous invocation queued so far, with its outcome. */
  get asyncInvocations(): readonly AsyncInvocation[] {
    return this.fc.asyncInvocations;
  }

  /** Waits until every queued asynchronous invocation has run (those it queues too). */
  settled(): Promise<void> {
    return this.fc.settled();
  }

  // ---- faults and observation ----

  /** The next `times` (default 1) calls of `action` (optionally in one region) fail with this HTTP status/Code/Message (real error body), or are delayed by latencyMs. */
  injectError(o: {
    action: string;
    region?: string;
    status?: number;
    code?: string;
    message?: string;
    times?: number;
    latencyMs?: number;
  }): void {
    this.server.inject({ ...o, times: o.times ?? 1 });
  }

  /** Every request answered so far, in order. */
  get requests(): readonly RequestRecord[] {
    return this.server.requests;
  }

  /** Stops all listeners. */
  async close(): Promise<void> {
    await this.server.close();
  }
}
