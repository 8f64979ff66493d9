/**
 * Typed errors. Every message is one line that names what was wrong (file and key path, registry or
 * cluster) and never carries a token, password, AccessKey secret or kubeconfig. Causes are kept in
 * `cause` for debugging but are never printed by the entry points.
 */

/** Base class of every error acr-fleet raises on purpose. */
export class AcrFleetError extends Error {
  override readonly name: string = 'AcrFleetError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** One problem found in a configuration file. */
export interface ConfigProblem {
  /** Key path such as `clusters[2].kubeconfig`, or `` for the whole document. */
  path: string;
  message: string;
}

/** The configuration is invalid; `problems` lists every problem found, not only the first. */
export class ConfigError extends AcrFleetError {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
  }
}

/** Formats one problem as `file: path: message`. */
export function formatProblem(file: string, p: ConfigProblem): string {
  return p.path ? `${file}: ${p.path}: ${p.message}` : `${file}: ${p.message}`;
}

/** What a {@link CloudError} knows besides its message. */
export interface CloudErrorOptions {
  /** The service's error code (`NoPermission`, `Throttling.User`), or the errno when no answer came. */
  code: string;
  /** HTTP status of the answer; undefined when the endpoint was not reached. */
  statusCode?: number | undefined;
  requestId?: string | undefined;
  cause?: unknown;
}

/** An Alibaba Cloud API call failed. `code` is the service's error code (e.g. `NoPermission`). */
export class CloudError extends AcrFleetError {
  override readonly name = 'CloudError';
  readonly code: string;
  readonly statusCode: number | undefined;
  readonly requestId: string | undefined;
  constructor(message: string, options: CloudErrorOptions) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.code = options.code;
    this.statusCode = options.statusCode;
    this.requestId = options.requestId;
  }
}

/** What a {@link KubeError} knows besides its message. */
export interface KubeErrorOptions {
  /** HTTP status; 0 when the server was not reached. */
  status: number;
  /** The Status `reason` (`NotFound`, `AlreadyExists`), or for status 0 what failed (`Timeout`, `ECONNRESET`). */
  reason?: string | undefined;
  cause?: unknown;
}

/** A Kubernetes API call failed. `status` is the HTTP status (0 when the server was not reached). */
export class KubeError extends AcrFleetError {
  override readonly name = 'KubeError';
  readonly status: number;
  readonly reason: string | undefined;
  constructor(message: string, options: KubeErrorOptions) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.status = options.status;
    this.reason = options.reason;
  }
}

/** A message safe to print for any thrown value: ours as-is, anything else by class name and message. */
export function describeError(err: unknown): string {
  if (err instanceof AcrFleetError) return err.message;
  if (err instanceof Error) return `${err.name}: ${firstLine(err.message)}`;
  return String(err);
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

/** The Kubernetes object does not exist (HTTP 404), as apimachinery's `IsNotFound`. */
export function isNotFound(err: unknown): err is KubeError {
  return err instanceof KubeError && err.status === 404;
}

/** The write lost a race: the object changed since it was read, or already exists (HTTP 409). */
export function isConflict(err: unknown): err is KubeError {
  return err instanceof KubeError && err.status === 409;
}

/** The identity may not do this (HTTP 403). */
export function isForbidden(err: unknown): err is KubeError {
  return err instanceof KubeError && err.status === 403;
}

/** A list's continue token expired (HTTP 410): the list must start again. */
export function isGone(err: unknown): err is KubeError {
  return err instanceof KubeError && err.status === 410;
}
