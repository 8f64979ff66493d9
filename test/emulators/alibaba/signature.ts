/**
 * Server-side signature algorithms of the Alibaba Cloud OpenAPI gateway, written independently of the SDK
 * (the tests check them against the real @alicloud/openapi-util and known-answer vectors).
 *
 * - ACS3-HMAC-SHA256 (V3): what openapi-client `doRequest` sends by default for RPC and ROA
 *   (reference §1.3; openapi-util getAuthorization).
 * - V1 RPC HMAC-SHA1: `signatureAlgorithm: 'v2'` `doRPCRequest`, and @alicloud/credentials' STS calls
 *   (reference §1.4; openapi-util getRPCSignature; credentials providers/ram_role_arn.ts).
 * - V1 ROA HMAC-SHA1 (`Authorization: acs AK:sig`): `signatureAlgorithm: 'v2'` `doROARequest`
 *   (openapi-util getStringToSign/getROASignature).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Hex SHA-256 of the empty body, the `x-acs-content-sha256` of every body-less SDK request. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 percent-encoding as Alibaba signs it: encodeURIComponent plus `! ' ( ) *`. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Hex SHA-256. */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Constant-time string comparison (signatures are secrets' MACs). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// ---------------------------------------------------------------- ACS3-HMAC-SHA256

/** The parts of an `Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..` header. */
export interface Acs3Authorization {
  algorithm: string;
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses an ACS3 Authorization header; undefined when it is not well formed. */
export function parseAcs3Authorization(header: string): Acs3Authorization | undefined {
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const algorithm = header.slice(0, space);
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKeyId = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!accessKeyId || signedHeaders === undefined || !signature) return undefined;
  return { algorithm, accessKeyId, signedHeaders: signedHeaders.split(';').filter(Boolean), signature };
}

/** What the ACS3 canonical request is built from, as received on the wire. */
export interface Acs3Request {
  method: string;
  /** Path exactly as sent, before `?` (not decoded: the client signed the same string it sent). */
  pathname: string;
  /** Decoded query parameters. */
  query: Record<string, string>;
  /** Request headers, lower-case names, every value of each. */
  headers: Record<string, string[] | undefined>;
  /** Header names listed in `SignedHeaders`. */
  signedHeaders: string[];
  /** Hex SHA-256 of the body actually received. */
  payloadHash: string;
}

/**
 * CanonicalRequest = METHOD \n URI \n QUERY \n HEADERS \n SIGNEDHEADERS \n HashedPayload, where HEADERS
 * already ends in \n (so a blank line follows it). Keys of the query are not encoded, values are
 * (openapi-util getAuthorizationQueryString); header values are trimmed, repeated ones sorted and joined
 * with `,` (getAuthorizationHeaders).
 */
export function acs3CanonicalRequest(r: Acs3Request): string {
  // openapi-util rewrites + * %7E in the path (first occurrence; openapi-core: all). Paths here have at most one.
  const uri = r.pathname.replaceAll('+', '%20').replaceAll('*', '%2A').replaceAll('%7E', '~');
  const query = Object.keys(r.query)
    .sort()
    .map((k) => `${k}=${percentEncode(r.query[k] ?? '')}`)
    .join('&');
  const names = [...r.signedHeaders].map((h) => h.toLowerCase()).sort();
  const headers = names
    .map(
      (name) =>
        `${name}:${(r.headers[name] ?? [])
          .map((v) => v.trim())
          .sort()
          .join(',')}\n`,
    )
    .join('');
  return `${r.method}\n${uri}\n${query}\n${headers}\n${names.join(';')}\n${r.payloadHash}`;
}

/** StringToSign = "ACS3-HMAC-SHA256\n" + hex(sha256(CanonicalRequest)). */
export function acs3StringToSign(canonicalRequest: string): string {
  return `ACS3-HMAC-SHA256\n${sha256Hex(canonicalRequest)}`;
}

/** hex(HMAC-SHA256(AccessKeySecret, StringToSign)); the key has no `&` suffix. */
export function acs3Signature(secret: string, stringToSign: string): string {
  return createHmac('sha256', secret).update(stringToSign).digest('hex');
}

// ---------------------------------------------------------------- V1 RPC (HMAC-SHA1)

/**
 * METHOD & %2F & enc(sorted `enc(k)=enc(v)` joined by &), over every parameter but `Signature`, whether it
 * came in the query or in a form body (openapi-util getRPCSignature; credentials ram_role_arn.ts).
 */
export function v1RpcStringToSign(method: string, params: Record<string, string>): string {
  const canonical = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k] ?? '')}`)
    .join('&');
  return `${method}&${percentEncode('/')}&${percentEncode(canonical)}`;
}

/** base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)). */
export function v1RpcSignature(secret: string, stringToSign: string): string {
  return createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64');
}

// ---------------------------------------------------------------- V1 ROA (HMAC-SHA1, "acs AK:sig")

/** What the V1 ROA string to sign is built from. */
export interface V1RoaRequest {
  method: string;
  pathname: string;
  /** Decoded query parameters. */
  query: Record<string, string>;
  /** Request headers, lower-case names, first value of each. */
  headers: Record<string, string | undefined>;
}

/**
 * METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n + sorted `x-acs-*:value\n` + path[?k=v&...] with raw
 * (unencoded) sorted query values (openapi-util getStringToSign).
 */
export function v1RoaStringToSign(r: V1RoaRequest): string {
  const h = (name: string): string => r.headers[name] ?? '';
  const acsHeaders = Object.keys(r.headers)
    .filter((k) => k.startsWith('x-acs-'))
    .sort()
    .map((k) => `${k}:${(r.headers[k] ?? '').replace(/[\t\n\r\f]/g, ' ').trim()}\n`)
    .join('');
  const keys = Object.keys(r.query).sort();
  const resource =
    keys.length === 0 ? r.pathname : `${r.pathname}?${keys.map((k) => `${k}=${r.query[k] ?? ''}`).join('&')}`;
  return `${r.method}\n${h('accept')}\n${h('content-md5')}\n${h('content-type')}\n${h('date')}\n${acsHeaders}${resource}`;
}

/** base64(HMAC-SHA1(AccessKeySecret, StringToSign)); no `&` suffix for ROA. */
export function v1RoaSignature(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64');
}
