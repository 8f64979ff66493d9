/**
 * Typed errors. Every message is one line that names what was wrong (file and key path, registry or
 * cluster) and never carries a token, password, AccessKey secret or kubeconfig. Causes are kept in
 * `cause` for debugging but are never printed by the entry points.
 */
import { quoteRemote } from './log/quote.js';

/** Base class of every error acr-fleet raises on purpose. */
export class AcrFleetError extends Error {
  override readonly name: string = 'AcrFleetError';
  /** `fields` are the subclass's own (declared there): one constructor for every error's options object. */
  constructor(message: string, { cause, ...fields }: { cause?: unknown } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    Object.assign(this, fields);
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
  declare readonly code: string;
  declare readonly statusCode: number | undefined;
  declare readonly requestId: string | undefined;
  constructor(message: string, options: CloudErrorOptions) {
    super(message, options);
  }
}

/** What a {@link KubeError} knows besides its message. */
export interface KubeErrorOptions {
  /** HTTP status; 0 when the server was not reached. */
  status: number;
  /** The Status `reason` (`NotFound`, `AlreadyExists`), or for status 0 what failed (`Timeout`, `ECONNRESET`). */
  reason?: string | undefined;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/** A Kubernetes API call failed. `status` is the HTTP status (0 when the server was not reached). */
export class KubeError extends AcrFleetError {
  override readonly name = 'KubeError';
  declare readonly status: number;
  declare readonly reason: string | undefined;
  /** How long the server asked to wait before trying again (`Retry-After`, 429/503), in ms. */
  declare readonly retryAfterMs: number | undefined;
  constructor(message: string, options: KubeErrorOptions) {
    super(message, options);
  }
}

/** A message safe to print for any thrown value: ours as-is, anything else by class name and message. */
export function describeError(err: unknown): string {
  if (err instanceof AcrFleetError) return err.message;
  // Not ours: its message may carry remote text (a library's error quoting a server).
  if (err instanceof Error) return `${err.name}: ${quoteRemote(firstLine(err.message))}`;
  return String(err);
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

/** A predicate on a KubeError's HTTP status, as apimachinery's `IsNotFound` and its siblings. */
const hasStatus =
  (status: number) =>
  (err: unknown): err is KubeError =>
    err instanceof KubeError && err.status === status;

/** The Kubernetes object does not exist (HTTP 404), as apimachinery's `IsNotFound`. */
export const isNotFound = hasStatus(404);

/** The write lost a race: the object changed since it was read, or already exists (HTTP 409). */
export const isConflict = hasStatus(409);

/** The identity may not do this (HTTP 403). */
export const isForbidden = hasStatus(403);

/** A list's continue token expired (HTTP 410): the list must start again. */
export const isGone = hasStatus(410);
