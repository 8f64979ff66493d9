/**
 * When a kubeconfig's credential stops working: a ServiceAccount token's JWT `exp`, a client
 * certificate's `notAfter`. Read without verifying anything (the API server does that) and without
 * ever putting the credential into an error or a log line.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * The earliest expiry (epoch ms) of the current user's bearer token and client certificate;
 * undefined when neither tells (opaque token, exec plugin, no credential) or on any odd input.
 */
export function credentialExpiry(kc: KubeConfig): number | undefined {
  let user: ReturnType<KubeConfig['getCurrentUser']>;
  try {
    user = kc.getCurrentUser();
  } catch {
    return undefined;
  }
  if (!user) return undefined;
  const found = [tokenExpiry(user.token), certificateExpiry(user.certData, user.certFile)].filter((t): t is number => t !== undefined);
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

/** `notAfter` of the client certificate (kubeconfig `client-certificate-data` is base64 PEM), in ms. */
function certificateExpiry(certData: string | undefined, certFile: string | undefined): number | undefined {
  try {
    const pem = certData ? Buffer.from(certData, 'base64') : certFile ? readFileSync(certFile) : undefined;
    if (!pem) return undefined;
    const notAfter = Date.parse(new X509Certificate(pem).validTo);
    return Number.isFinite(notAfter) ? notAfter : undefined;
  } catch {
    return undefined;
  }
}
