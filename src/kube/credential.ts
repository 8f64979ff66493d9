/**
 * When a kubeconfig's credential stops working: a ServiceAccount token's JWT `exp`, a client
 * certificate's `notAfter`. Read without verifying anything (the API server does that) and without
 * ever putting the credential into an error or a log line.
 */
import { X509Certificate } from 'node:crypto';
import type { KubeconfigContext } from './kubeconfig.js';

/**
 * The earliest expiry (epoch ms) of the kubeconfig's bearer token and client certificate; undefined when
 * neither tells (opaque token, credential plugin, no credential) or on any odd input.
 */
export function credentialExpiry(k: Pick<KubeconfigContext, 'token' | 'cert'>): number | undefined {
  const found = [tokenExpiry(k.token), certificateExpiry(k.cert)].filter((t): t is number => t !== undefined);
  return found.length ? Math.min(...found) : undefined;
}

/** `exp` (seconds) of a JWT-shaped bearer token, in ms. */
function tokenExpiry(token: string | undefined): number | undefined {
  const parts = token?.split('.');
  if (parts?.length !== 3 || !parts[1]) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    const exp = claims !== null && typeof claims === 'object' ? (claims as { exp?: unknown }).exp : undefined;
    return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** `notAfter` of the client certificate (PEM), in ms. */
function certificateExpiry(pem: Buffer | undefined): number | undefined {
  if (!pem) return undefined;
  try {
    const notAfter = Date.parse(new X509Certificate(pem).validTo);
    return Number.isFinite(notAfter) ? notAfter : undefined;
  } catch {
    return undefined;
  }
}
