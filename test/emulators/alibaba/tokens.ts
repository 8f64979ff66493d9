/**
 * Registry login tokens issued by CR (Enterprise and Personal Edition), and the registry hosts they log in to.
 */
import { randomBytes } from 'node:crypto';

/** A registry token the emulator issued. */
export interface IssuedToken {
  /** EE instance id, or `personal:<region>` for Personal Edition. */
  registry: string;
  region: string;
  username: string;
  password: string;
  /** Epoch ms. */
  expiresAt: number;
  /** ARN of the caller that obtained it. */
  principal: string;
}

/** The temporary user name both editions return (`TempUsername` / `tempUserName`). */
export const TEMP_USERNAME = 'cr_temp_user';

/** An opaque password in the shape of the real ones (long base64url). */
export function newRegistryPassword(): string {
  return randomBytes(96).toString('base64url');
}

/**
 * Personal Edition registry hosts of a region: public, VPC, classic-network internal and international
 * (reference §3; mozillazg/docker-credential-acr-helper registry.go).
 */
export function personalHosts(region: string): string[] {
  return [
    `registry.${region}.aliyuncs.com`,
    `registry-vpc.${region}.aliyuncs.com`,
    `registry-internal.${region}.aliyuncs.com`,
    `registry-intl.${region}.aliyuncs.com`,
  ];
}

/**
 * Token lifetime: the product's TTL, cut to what is left of the caller's STS session, since a token obtained
 * with STS credentials lasts as long as they do (CR GetAuthorizationTokenResponseBody docs).
 */
export function tokenExpiry(now: number, ttlSeconds: number, sessionExpiresAt: number | undefined): number {
  const own = now + ttlSeconds * 1000;
  return sessionExpiresAt === undefined ? own : Math.min(own, sessionExpiresAt);
}
