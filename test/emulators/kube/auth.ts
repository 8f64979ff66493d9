/**
 * Authentication: static bearer tokens (like --token-auth-file) and bound service-account tokens
 * minted by TokenRequest. As on a real server, a bound token stops working once its
 * ServiceAccount is gone (or replaced by one with another uid) or it expires; every
 * authenticated user gains the group system:authenticated; a request without a bearer token is
 * system:anonymous in group system:unauthenticated.
 */
import { randomBytes } from 'node:crypto';
import type { UserInfo } from './rbac.js';
import type { Store } from './store.js';

/** Default audience of a kubeadm cluster (--service-account-issuer). */
export const DEFAULT_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

interface BoundToken {
  namespace: string;
  name: string;
  uid: string;
  expires: number;
}

/** Result of authenticating a request: a user, or `undefined` for a rejected token (401). */
export type AuthResult = UserInfo | undefined;

const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Token registry and authenticator. */
export class Authenticator {
  private readonly staticTokens = new Map<string, UserInfo>();
  private readonly boundTokens = new Map<string, BoundToken>();
  /** Legacy (Secret-based) tokens by token text: valid while their Secret still holds them and the SA is the same. */
  private readonly legacyTokens = new Map<string, BoundToken & { secret: string }>();

  constructor(private readonly store: Store) {}

  /** Registers a static token. */
  addToken(token: string, user: UserInfo): void {
    this.staticTokens.set(token, { name: user.name, groups: [...user.groups] });
  }

  /**
   * Mints a service-account token shaped like the real JWT (header.claims.signature; the
   * signature is random, the emulator only accepts tokens it minted).
   */
  mint(
    namespace: string,
    name: string,
    uid: string,
    expirationSeconds: number,
    audiences: string[],
  ): { token: string; expires: Date } {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + expirationSeconds;
    const claims = {
      aud: audiences,
      exp,
      iat,
      iss: DEFAULT_AUDIENCE,
      'kubernetes.io': { namespace, serviceaccount: { name, uid } },
      nbf: iat,
      sub: `system:serviceaccount:${namespace}:${name}`,
    };
    const token = `${b64url({ alg: 'RS256', kid: 'kube-emulator' })}.${b64url(claims)}.${randomBytes(32).toString('base64url')}`;
    this.boundTokens.set(token, { namespace, name, uid, expires: exp * 1000 });
    return { token, expires: new Date(exp * 1000) };
  }

  /**
   * The token controller's legacy token for a `kubernetes.io/service-account-token` Secret
   * (pkg/serviceaccount/legacy.go claims: issuer `kubernetes/serviceaccount`, namespace, secret name,
   * service account name and uid). It authenticates as the ServiceAccount while the Secret exists and holds it.
   */
  mintLegacy(namespace: string, name: string, uid: string, secret: string): string {
    const claims = {
      iss: 'kubernetes/serviceaccount',
      'kubernetes.io/serviceaccount/namespace': namespace,
      'kubernetes.io/serviceaccount/secret.name': secret,
      'kubernetes.io/serviceaccount/service-account.name': name,
      'kubernetes.io/serviceaccount/service-account.uid': uid,
      sub: `system:serviceaccount:${namespace}:${name}`,
    };
    const token = `${b64url({ alg: 'RS256', kid: 'kube-emulator' })}.${b64url(claims)}.${randomBytes(32).toString('base64url')}`;
    this.legacyTokens.set(token, { namespace, name, uid, secret, expires: Infinity });
    return token;
  }

  /** Authenticates an Authorization header value. */
  authenticate(header: string | undefined): AuthResult {
    const parts = (header ?? '').split(' ');
    // Only "Bearer <token>" is a credential; anything else leaves the request anonymous.
    if (parts.length < 2 || parts[0]?.toLowerCase() !== 'bearer' || !parts[1]) return ANONYMOUS;
    const token = parts[1];
    const user = this.staticTokens.get(token);
    if (user) return { name: user.name, groups: withAuthenticated(user.groups) };
    const legacy = this.legacyTokens.get(token);
    if (legacy) {
      const secret = this.store.get('secrets', legacy.namespace, legacy.secret);
      const held = (secret?.data as Record<string, string> | undefined)?.token;
      if (!held || Buffer.from(held, 'base64').toString() !== token) return undefined;
    }
    const bound = this.boundTokens.get(token) ?? legacy;
    if (!bound || bound.expires <= Date.now()) return undefined;
    const sa = this.store.get('serviceaccounts', bound.namespace, bound.name);
    if (!sa || sa.metadata.uid !== bound.uid) return undefined;
    return {
      name: `system:serviceaccount:${bound.namespace}:${bound.name}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${bound.namespace}`, 'system:authenticated'],
    };
  }
}

function withAuthenticated(groups: string[]): string[] {
  return groups.includes('system:authenticated') ? [...groups] : [...groups, 'system:authenticated'];
}
