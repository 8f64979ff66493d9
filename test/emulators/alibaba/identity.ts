/**
 * RAM: accounts, RAM users with AccessKeys, roles with trust policies, STS sessions, OIDC providers, and the
 * permission check every product runs before it acts.
 */
import { generateKeyPairSync, randomBytes, randomInt, sign, verify, type KeyObject } from 'node:crypto';
import { accessKeyNotFound, missingSecurityToken, tokenExpired, tokenMalformed, tokenMismatch } from './errors.js';

/** AccessKey pair, optionally with an STS security token. */
export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

/** One Allow/Deny statement of a policy (RAM policy grammar, version 1). */
export interface Statement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
}

/** Who signed a request, and what it may do. */
export interface Principal {
  kind: 'root' | 'user' | 'role';
  accountId: string;
  /** ARN that trust policies name: `acs:ram::<uid>:root`, `…:user/<name>` or `…:role/<name>`. */
  identityArn: string;
  /** ARN of the caller as GetCallerIdentity reports it (`…:assumed-role/<role>/<session>` for sessions). */
  callerArn: string;
  /** Display name for AccessDeniedDetail. */
  displayName: string;
  /**
   * Numeric RAM id: the account UID (root), the RAM user's UserId, or the role's RoleId (every session of a
   * role shares it). ACK names the caller's Kubernetes user after it.
   */
  ramId: string;
  /** Identity policy: allowed action and resource patterns. */
  statements: Statement[];
  /** AssumeRole `Policy`: further restricts a session. */
  sessionPolicy?: Statement[];
  /** Epoch ms at which STS credentials of this caller expire. */
  expiresAt?: number;
}

/** A RAM role. */
export interface Role {
  accountId: string;
  name: string;
  arn: string;
  roleId: string;
  statements: Statement[];
  trustedPrincipals: string[];
  trustedOidcProviders: { arn: string; issuer: string; audience?: string; subject?: string }[];
  maxSessionDuration: number;
  externalId?: string;
}

/** A RAM OIDC identity provider with the RSA key its tokens are signed with. */
export interface OidcProvider {
  accountId: string;
  name: string;
  arn: string;
  issuer: string;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** AccessDeniedDetail of a RAM denial, as newer gateway errors carry it (the SDK exposes it as `.accessDeniedDetail`). */
export function accessDeniedDetail(principal: Principal, action: string): Record<string, string> {
  return {
    AuthAction: action,
    AuthPrincipalType:
      principal.kind === 'role' ? 'AssumedRoleUser' : principal.kind === 'user' ? 'SubUser' : 'Account',
    AuthPrincipalOwnerId: principal.accountId,
    AuthPrincipalDisplayName: principal.displayName,
    PolicyType: 'AccountLevelIdentityBasedPolicy',
    NoPermissionType: 'ImplicitDeny',
    EncodedDiagnosticMessage: Buffer.from(JSON.stringify({ action, principal: principal.callerArn })).toString(
      'base64',
    ),
  };
}

/** Claims of an OIDC token this emulator issued. */
export interface OidcClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  iat: number;
  exp: number;
  jti?: string;
}

/** STS credentials issued for a role, with the principal they act as. */
export interface Session {
  credentials: Required<Credentials>;
  principal: Principal;
  expiresAt: number;
  role: Role;
  sessionName: string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const randomString = (length: number): string => Array.from({ length }, () => ALNUM[randomInt(ALNUM.length)]).join('');

/** `*`/`?` glob, case-insensitive, anchored (RAM Action/Resource matching). */
export function globMatch(pattern: string, value: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${re}$`, 'i').test(value);
}

const matches = (s: Statement, action: string, resource: string): boolean =>
  s.actions.some((a) => globMatch(a, action)) && s.resources.some((r) => globMatch(r, resource));

/** RAM evaluation: an explicit Deny wins, then some Allow is needed. */
export function policyAllows(statements: Statement[], action: string, resource: string): boolean {
  if (statements.some((s) => s.effect === 'Deny' && matches(s, action, resource))) return false;
  return statements.some((s) => s.effect === 'Allow' && matches(s, action, resource));
}

/**
 * Parses an AssumeRole `Policy` document. Undefined when it does not pass the grammar check
 * (`{"Version":"1","Statement":[{"Effect":"Allow","Action":[...],"Resource":[...]}]}`).
 */
export function parsePolicy(text: string): Statement[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { Statement?: unknown }).Statement))
    return undefined;
  const list = (v: unknown): string[] | undefined =>
    typeof v === 'string'
      ? [v]
      : Array.isArray(v) && v.every((x) => typeof x === 'string')
        ? (v as string[])
        : undefined;
  const out: Statement[] = [];
  for (const raw of (doc as { Statement: unknown[] }).Statement) {
    if (typeof raw !== 'object' || raw === null) return undefined;
    const s = raw as Record<string, unknown>;
    const actions = list(s.Action);
    const resources = list(s.Resource ?? '*');
    if ((s.Effect !== 'Allow' && s.Effect !== 'Deny') || !actions || !resources) return undefined;
    out.push({ effect: s.Effect, actions, resources });
  }
  return out;
}

/** A numeric id in the range real RAM ids use (users: 17 digits starting 2, roles: 18 digits starting 3). */
const newRamId = (base: bigint): string => String(base + BigInt(randomInt(2 ** 47)));

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** Accounts, identities and credentials. */
export class Iam {
  private readonly accounts = new Set<string>();
  private readonly accessKeys = new Map<string, { secret: string; principal: Principal }>();
  private readonly rootKeys = new Map<string, Credentials>();
  private readonly roles = new Map<string, Role>();
  private readonly sessions = new Map<string, Session>();
  private readonly oidcProviders = new Map<string, OidcProvider>();
  private sessionCounter = 0;

  /** Registers an account (idempotent). */
  createAccount(accountId: string): void {
    this.accounts.add(accountId);
  }

  private requireAccount(accountId: string): void {
    if (!this.accounts.has(accountId)) throw new Error(`unknown account ${accountId}: call createAccount first`);
  }

  /** The account's root (Alibaba Cloud account) AccessKey: may do anything except AssumeRole. */
  rootCredentials(accountId: string): Credentials {
    this.requireAccount(accountId);
    let creds = this.rootKeys.get(accountId);
    if (!creds) {
      creds = { accessKeyId: `LTAI${randomString(20)}`, accessKeySecret: randomString(30) };
      const arn = `acs:ram::${accountId}:root`;
      this.accessKeys.set(creds.accessKeyId, {
        secret: creds.accessKeySecret,
        principal: {
          kind: 'root',
          accountId,
          identityArn: arn,
          callerArn: arn,
          displayName: accountId,
          ramId: accountId,
          statements: [],
        },
      });
      this.rootKeys.set(accountId, creds);
    }
    return { ...creds };
  }

  /** A RAM user with one AccessKey and an identity policy allowing `actions` on `resources`. */
  addUser(o: { accountId: string; name: string; actions: string[]; resources?: string[] }): Credentials {
    this.requireAccount(o.accountId);
    const creds = { accessKeyId: `LTAI${randomString(20)}`, accessKeySecret: randomString(30) };
    const arn = `acs:ram::${o.accountId}:user/${o.name}`;
    this.accessKeys.set(creds.accessKeyId, {
      secret: creds.accessKeySecret,
      principal: {
        kind: 'user',
        accountId: o.accountId,
        identityArn: arn,
        callerArn: arn,
        displayName: o.name,
        ramId: newRamId(20000000000000000n),
        statements: [{ effect: 'Allow', actions: o.actions, resources: o.resources ?? ['*'] }],
      },
    });
    return creds;
  }

  /**
   * A RAM role. Without `trustedPrincipals` it trusts its own account (`acs:ram::<uid>:root`, i.e. every RAM
   * identity of the account), which is what the console creates for "Alibaba Cloud account" roles.
   */
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
    this.requireAccount(o.accountId);
    const arn = `acs:ram::${o.accountId}:role/${o.name}`;
    const role: Role = {
      accountId: o.accountId,
      name: o.name,
      arn,
      roleId: newRamId(300000000000000000n),
      statements: [
        { effect: 'Allow', actions: o.actions, resources: o.resources ?? ['*'] },
        ...(o.policy?.Statement ?? []).map((st) => ({
          effect: st.Effect === 'Deny' ? ('Deny' as const) : ('Allow' as const),
          actions: ([] as string[]).concat(st.Action),
          resources: ([] as string[]).concat(st.Resource),
        })),
      ],
      trustedPrincipals: o.trustedPrincipals ?? [`acs:ram::${o.accountId}:root`],
      trustedOidcProviders: o.trustedOidcProviders ?? [],
      maxSessionDuration: o.maxSessionDuration ?? 3600,
      ...(o.externalId === undefined ? {} : { externalId: o.externalId }),
    };
    this.roles.set(arn.toLowerCase(), role);
    return arn;
  }

  /**
   * The RAM user or role of `accountId` with this numeric id (GrantPermissions' `uid`), as
   * `{ kind, name }`; undefined when the account has none.
   */
  findByRamId(accountId: string, ramId: string): { kind: 'user' | 'role'; name: string } | undefined {
    for (const role of this.roles.values())
      if (role.accountId === accountId && role.roleId === ramId) return { kind: 'role', name: role.name };
    for (const { principal } of this.accessKeys.values())
      if (principal.kind === 'user' && principal.accountId === accountId && principal.ramId === ramId)
        return { kind: 'user', name: principal.displayName };
    return undefined;
  }

  /** The principal an AccessKey (long-term or STS) acts as. */
  principalOf(accessKeyId: string): Principal | undefined {
    return this.sessions.get(accessKeyId)?.principal ?? this.accessKeys.get(accessKeyId)?.principal;
  }

  /** The role with this ARN (RAM ARNs compare case-insensitively). */
  findRole(arn: string): Role | undefined {
    return this.roles.get(arn.toLowerCase());
  }

  /** Issues STS credentials acting as `role` until now + durationSeconds (which may be <= 0: expired). */
  issueSession(role: Role, sessionName: string, durationSeconds: number, sessionPolicy?: Statement[]): Session {
    const expiresAt = Date.now() + durationSeconds * 1000;
    const credentials = {
      accessKeyId: `STS.${randomString(25)}`,
      accessKeySecret: randomString(44),
      // Real tokens are base64 protobuf beginning "CAIS"; only this emulator reads them.
      securityToken: `CAIS${randomBytes(180).toString('base64')}`,
    };
    const principal: Principal = {
      kind: 'role',
      accountId: role.accountId,
      identityArn: role.arn,
      callerArn: `acs:ram::${role.accountId}:assumed-role/${role.name}/${sessionName}`,
      displayName: `${role.name}:${sessionName}`,
      ramId: role.roleId,
      statements: role.statements,
      ...(sessionPolicy ? { sessionPolicy } : {}),
      expiresAt,
    };
    const session: Session = { credentials, principal, expiresAt, role, sessionName };
    this.sessions.set(credentials.accessKeyId, session);
    return session;
  }

  /** STS credentials for a role as Function Compute hands them to a function. */
  roleSession(roleArn: string, ttlSeconds = 3600): Credentials & { expiration: string } {
    const role = this.findRole(roleArn);
    if (!role) throw new Error(`unknown role ${roleArn}`);
    const session = this.issueSession(role, `fc-session-${++this.sessionCounter}`, ttlSeconds);
    return { ...session.credentials, expiration: isoSeconds(session.expiresAt) };
  }

  /**
   * Resolves the AccessKey of a request. STS keys need their own security token and must not have expired;
   * the order of the checks follows the gateway: key, token presence, token match, expiry.
   */
  authenticate(
    accessKeyId: string,
    securityToken: string | undefined,
    now: number,
  ): { secret: string; principal: Principal } {
    const session = this.sessions.get(accessKeyId);
    if (session) {
      if (!securityToken) throw missingSecurityToken();
      if (securityToken !== session.credentials.securityToken) {
        const known = [...this.sessions.values()].some((s) => s.credentials.securityToken === securityToken);
        throw known ? tokenMismatch() : tokenMalformed();
      }
      if (now >= session.expiresAt) throw tokenExpired();
      return { secret: session.credentials.accessKeySecret, principal: session.principal };
    }
    const key = this.accessKeys.get(accessKeyId);
    if (!key) throw accessKeyNotFound();
    return key;
  }

  /** Whether `principal` may perform `action` (e.g. `cr:GetAuthorizationToken`) on `resource` (an ARN). */
  isAllowed(principal: Principal, action: string, resource: string): boolean {
    if (principal.kind === 'root') return true;
    if (!policyAllows(principal.statements, action, resource)) return false;
    return !principal.sessionPolicy || policyAllows(principal.sessionPolicy, action, resource);
  }

  /** Registers an OIDC provider whose tokens are RS256-signed with a fresh 2048-bit key. */
  addOidcProvider(o: { accountId: string; name: string; issuer: string }): string {
    this.requireAccount(o.accountId);
    const arn = `acs:ram::${o.accountId}:oidc-provider/${o.name}`;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.oidcProviders.set(arn.toLowerCase(), {
      accountId: o.accountId,
      name: o.name,
      arn,
      issuer: o.issuer,
      kid: randomString(16),
      privateKey,
      publicKey,
    });
    return arn;
  }

  /** The provider with this ARN. */
  findOidcProvider(arn: string): OidcProvider | undefined {
    return this.oidcProviders.get(arn.toLowerCase());
  }

  /** An RS256 JWT from the provider; `aud` defaults to `sts.aliyuncs.com` (what RRSA projects). */
  oidcToken(o: { providerArn: string; subject: string; audience?: string; ttlSeconds?: number }): string {
    const provider = this.findOidcProvider(o.providerArn);
    if (!provider) throw new Error(`unknown OIDC provider ${o.providerArn}`);
    const now = Math.floor(Date.now() / 1000);
    const ttl = o.ttlSeconds ?? 3600;
    // An expired token was issued in the past, so that iat < exp still holds.
    const iat = ttl > 0 ? now : now + ttl - 60;
    const claims: OidcClaims = {
      iss: provider.issuer,
      sub: o.subject,
      aud: o.audience ?? 'sts.aliyuncs.com',
      iat,
      exp: now + ttl,
      jti: randomString(12),
    };
    const signingInput = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: provider.kid }))}.${b64url(JSON.stringify(claims))}`;
    return `${signingInput}.${b64url(sign('RSA-SHA256', Buffer.from(signingInput), provider.privateKey))}`;
  }

  /** Verifies a JWT's RS256 signature with the provider's key; undefined when it is not a valid token of it. */
  verifyOidcToken(provider: OidcProvider, token: string): OidcClaims | undefined {
    const [h, p, s, extra] = token.split('.');
    if (h === undefined || p === undefined || s === undefined || extra !== undefined) return undefined;
    try {
      const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: string };
      if (header.alg !== 'RS256') return undefined;
      if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), provider.publicKey, Buffer.from(s, 'base64url')))
        return undefined;
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as OidcClaims;
      return typeof claims.iss === 'string' && typeof claims.exp === 'number' ? claims : undefined;
    } catch {
      return undefined;
    }
  }
}

/** `YYYY-MM-DDTHH:mm:ssZ`, the only form @alicloud/credentials parseUTC accepts besides millisecond precision. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
