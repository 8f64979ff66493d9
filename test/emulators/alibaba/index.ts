/**
 * In-process emulator of the Alibaba Cloud OpenAPIs acr-fleet calls: CR (Enterprise 2018-12-01 and Personal
 * 2016-06-07), STS 2015-04-01, KMS 2016-01-20, ACK (CS 2015-12-15), ACK One (ADCP 2022-01-01), RAM 2015-05-01
 * and Function Compute 3.0 (2023-03-30). The real SDK clients talk to it over
 * HTTP(S); it verifies real signatures and answers with the real wire formats and error shapes.
 * See README.md beside this file for what mirrors which real behaviour.
 */
import { CrEnterprise } from './cr-ee.js';
import { CrPersonal } from './cr-pe.js';
import { Adcp, type FleetMember } from './adcp.js';
import { Cs, type AckClusterSeed, type AckGrant, type IssuedKubeconfig } from './cs.js';
import { Fc, type AsyncInvocation, type FcHandler, type FcInstanceUsage } from './fc.js';
import { gzipBombSize, sendGzipBomb } from './hostile.js';
import { Iam, type Credentials } from './identity.js';
import { Kms } from './kms.js';
import { Ram, type CustomPolicy } from './ram.js';
import { ApiServer, type Product, type RequestRecord } from './server.js';
import { Sts } from './sts.js';
import { personalHosts, type IssuedToken } from './tokens.js';

export type { Credentials } from './identity.js';
export type { FleetMember } from './adcp.js';
export type {
  AckBinding,
  AckClusterSeed,
  AckGrant,
  AckKubeBackend,
  AckKubeIdentity,
  AckRbacHook,
  IssuedKubeconfig,
} from './cs.js';
export type { AsyncInvocation, FcHandler, FcInstanceUsage, FcInvocationContext } from './fc.js';
export type { CustomPolicy } from './ram.js';
export { MAX_PAGE_SIZE as ACK_MAX_PAGE_SIZE } from './cs.js';
export { MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD } from './fc.js';
export { MAX_POLICY_DOCUMENT_CHARS } from './ram.js';
export { gzipBombSize } from './hostile.js';
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

/**
 * Products listed by endpointsConfig(): the ones fleet.yaml's `endpoints:` knows. ADCP and RAM have
 * listeners too (endpoint()), left out here so that the block stays valid for the current config schema.
 */
const PRODUCTS: Product[] = ['cr', 'sts', 'kms', 'cs', 'fc'];

/** The emulator: identities, resources, faults, and one listener per (product, region). */
export class AlibabaEmulator {
  private readonly iam = new Iam();
  private readonly issued: IssuedToken[] = [];
  private readonly crEe = new CrEnterprise(this.issued);
  private readonly crPe = new CrPersonal(this.issued);
  private readonly kms = new Kms();
  private readonly cs = new Cs(this.iam);
  private readonly adcp = new Adcp();
  private readonly ram = new Ram(this.iam);
  private readonly fc = new Fc(this.iam);
  private readonly server: ApiServer;

  private constructor(
    private readonly regions: string[],
    tls: boolean,
    latencyMs: number,
  ) {
    this.server = new ApiServer(
      this.iam,
      [this.crEe, this.crPe, new Sts(this.iam), this.kms, this.cs, this.fc, this.adcp, this.ram],
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

  // ---- Container Service (ACK) and ACK One ----

  /**
   * An ACK cluster, listed by DescribeClustersV1 with its name, type, tags and VPC. Its kubeconfig comes from
   * `kubeconfig(minutes, identity)`, or from `kube` (a kube emulator): each DescribeClusterUserKubeconfig
   * registers a fresh token there for the Kubernetes user ACK maps the caller to (`identity.user`, the
   * caller's numeric RAM id). `onRbac` receives the bindings GrantPermissions makes in this cluster.
   */
  addAckCluster(o: AckClusterSeed): void {
    this.cs.add(o);
  }

  /** Every kubeconfig DescribeClusterUserKubeconfig issued (cluster, Kubernetes user, minutes, expiry). */
  get ackKubeconfigs(): readonly IssuedKubeconfig[] {
    return this.cs.issuedKubeconfigs;
  }

  /** The grants GrantPermissions last set for a RAM user or role id (`ackUserName`) in an account. */
  ackGrants(accountId: string, uid: string): AckGrant[] {
    return this.cs.grantsOf(accountId, uid);
  }

  /**
   * The Kubernetes user name ACK gives a RAM identity (and the `uid` of GrantPermissions): the RAM user's
   * UserId for an AccessKey of a user, the RoleId for a role ARN or any session of it, the account UID for
   * root credentials.
   */
  ackUserName(who: string | { accessKeyId: string }): string {
    if (typeof who === 'string') {
      const role = this.iam.findRole(who);
      if (!role) throw new Error(`unknown role ${who}`);
      return role.roleId;
    }
    const principal = this.iam.principalOf(who.accessKeyId);
    if (!principal) throw new Error(`unknown AccessKey ${who.accessKeyId}`);
    return principal.ramId;
  }

  /** An ACK One fleet instance (its hub cluster id) whose members DescribeManagedClusters lists. */
  addAckOneFleet(o: { accountId: string; region: string; hubClusterId: string; members: FleetMember[] }): void {
    this.adcp.add(o);
  }

  // ---- RAM ----

  /** Custom policies created through RAM CreatePolicy, by account. */
  ramPolicies(accountId: string): CustomPolicy[] {
    return [...this.ram.policies.values()].filter((p) => p.accountId === accountId).map((p) => ({ ...p }));
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

  /**
   * The account's on-demand instance quota in a region (undefined: unlimited, the default). Over it a
   * synchronous InvokeFunction is refused with 429 ResourceExhausted and an asynchronous one waits in the queue.
   */
  setFcInstanceQuota(o: { accountId: string; region: string; instances: number | undefined }): void {
    this.fc.setQuota(o.accountId, o.region, o.instances);
  }

  /** Instances in use, the peak, and how often the quota refused or queued an invocation. */
  fcInstanceUsage(accountId: string, region: string): FcInstanceUsage {
    return this.fc.instanceUsage(accountId, region);
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

  /**
   * Limits `action` (e.g. `GetAuthorizationToken`, both CR editions unless `product` narrows it) to a token
   * bucket per caller: `burst` calls at once, refilled at `ratePerSecond`. Calls over it fail with
   * `Throttling.User`. Off by default.
   */
  throttle(o: { action: string; product?: Product; ratePerSecond: number; burst?: number }): void {
    this.server.throttle({ ...o, burst: o.burst ?? Math.max(1, Math.ceil(o.ratePerSecond)) });
  }

  /**
   * A listener standing for a host a tenant controls (e.g. where a hostile regionId points the client). Every
   * request is recorded in `requests` (product `hostile`, `listener` = the returned URL) and answered with a
   * gzip bomb: `inflatedBytes` (default 1.6 GB, about 1.5 MB on the wire) of zeros, `content-encoding: gzip`,
   * streamed. Returns its base URL and the exact sizes sent.
   */
  async hostileEndpoint(
    o: { region?: string; inflatedBytes?: number; status?: number } = {},
  ): Promise<{ url: string; compressedBytes: number; inflatedBytes: number }> {
    const bytes = o.inflatedBytes ?? 1_600_000_000;
    const size = gzipBombSize(bytes);
    const url = await this.server.listen(o.region ?? 'hostile', (_req, res) => sendGzipBomb(res, bytes, o.status));
    return { url, compressedBytes: size.compressed, inflatedBytes: size.inflated };
  }

  /** Requests that reached a listener (its base URL, as endpoint() or hostileEndpoint() gave it). */
  requestsTo(url: string): readonly RequestRecord[] {
    const base = new URL(url).origin;
    return this.server.requests.filter((r) => r.listener === base);
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
