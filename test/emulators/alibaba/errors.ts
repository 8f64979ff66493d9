/**
 * Error responses of the Alibaba Cloud OpenAPI gateway and products, exactly as the SDKs parse them.
 *
 * The SDKs read `Code`/`code`, `Message`/`message`, `RequestId`/`requestId` and `AccessDeniedDetail` from a
 * JSON body of any 4xx/5xx response (openapi-client doRequest/doRPCRequest/doROARequest), so every error here
 * is a JSON document served with `content-type: application/json;charset=utf-8`.
 */

/** One error the emulator answers with. Thrown anywhere in request handling, rendered by the server. */
export class ApiError extends Error {
  /**
   * @param status HTTP status of the response.
   * @param code the `Code` field (the SDK error's `.code`).
   * @param message the `Message` field.
   * @param extra further body fields (e.g. `AccessDeniedDetail`).
   * @param lowercase render `{code, message, requestId}` instead of the gateway's capitalised keys, as
   *   CR Personal Edition does for USER_NOT_EXIST.
   */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly lowercase = false,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The JSON body for a response with this request id, served by `host`. */
  body(requestId: string, host: string): Record<string, unknown> {
    if (this.lowercase) return { code: this.code, message: this.message, requestId, ...this.extra };
    return {
      RequestId: requestId,
      HostId: host,
      Code: this.code,
      Message: this.message,
      // The gateway links every error to its troubleshooting page.
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(this.code)}&product=${host.split('.')[0] ?? ''}&requestId=${requestId}`,
      ...this.extra,
    };
  }
}

// ---- gateway-level errors shared by every RPC/ROA product ----
// Codes and messages: Alibaba Cloud common error code tables (e.g. the FaaS/KMS "common error codes" docs,
// help doc-detail/69008) and the SMS error list; statuses where those tables give them.

/** Unknown AccessKeyId: 404 InvalidAccessKeyId.NotFound (KMS common errors, doc-detail/69008). */
export const accessKeyNotFound = (): ApiError =>
  new ApiError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');

/** ACS3 signature mismatch: 400 SignatureDoesNotMatch "Specified signature does not match our calculation." */
export const acs3SignatureMismatch = (stringToSign: string, canonicalRequest: string): ApiError =>
  new ApiError(
    400,
    'SignatureDoesNotMatch',
    `Specified signature does not match our calculation. server StringToSign is [${stringToSign}] server CanonicalRequest is [${canonicalRequest}]`,
  );

/**
 * V1 (HMAC-SHA1) signature mismatch. The message prefix is load-bearing: @alicloud/credentials
 * ram_role_arn.ts slices it off and compares the rest with its own string to sign.
 */
export const v1SignatureMismatch = (stringToSign: string): ApiError =>
  new ApiError(
    400,
    'SignatureDoesNotMatch',
    `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}`,
  );

/** A malformed Authorization header. */
export const incompleteSignature = (): ApiError =>
  new ApiError(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');

/** A mandatory common parameter is absent. */
export const missingParameter = (name: string): ApiError =>
  new ApiError(
    400,
    'MissingParameter',
    `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
  );

/** Request time more than 15 minutes away from the server's. */
export const timestampExpired = (): ApiError =>
  new ApiError(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');

/** A request time that does not parse. */
export const timestampFormat = (): ApiError =>
  new ApiError(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');

/** Replayed signature nonce. */
export const nonceUsed = (): ApiError =>
  new ApiError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');

/** STS AccessKey without a security token (STS common errors, doc-detail/42775). */
export const missingSecurityToken = (): ApiError =>
  new ApiError(400, 'MissingSecurityToken', 'SecurityToken is mandatory for this action.');

/** Security token of another AccessKey. */
export const tokenMismatch = (): ApiError =>
  new ApiError(
    400,
    'InvalidSecurityToken.MismatchWithAccessKey',
    'Specified SecurityToken mismatch with the AccessKey.',
  );

/** A security token this emulator never issued. */
export const tokenMalformed = (): ApiError =>
  new ApiError(400, 'InvalidSecurityToken.Malformed', 'Specified SecurityToken is malformed.');

/** STS credentials past their Expiration. */
export const tokenExpired = (): ApiError =>
  new ApiError(400, 'InvalidSecurityToken.Expired', 'Specified SecurityToken is expired.');

/** Action that the product does not have. */
export const actionNotFound = (): ApiError =>
  new ApiError(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');

/** Version that the action does not have. */
export const invalidVersion = (): ApiError =>
  new ApiError(400, 'InvalidVersion', 'Specified parameter Version is not valid.');

/** Default for injected failures without a code. */
export const internalError = (): ApiError =>
  new ApiError(500, 'InternalError', 'The request processing has failed due to some unknown error.');

/**
 * A required API parameter is absent: the gateway's `Missing<Name>` / "<Name> is mandatory for this action."
 * (the form of STS's MissingSecurityToken, doc-detail/42775).
 */
export const missingApiParameter = (name: string): ApiError =>
  new ApiError(400, `Missing${name}`, `${name} is mandatory for this action.`);
