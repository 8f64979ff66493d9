/**
 * `--log-level debug`: each Kubernetes and cloud request, as the entry asks to see them. The observer is
 * scoped to the run by AsyncLocalStorage, so the adapters report without any client knowing a logger; an
 * event carries the method, path (no query), status, duration and a retry's reason, never a header value
 * or a body.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestEvent {
  api: 'kubernetes' | 'openapi';
  /** `GET`; for OpenAPI the HTTP method of the call. */
  method: string;
  /** Kubernetes: the URL path without its query; OpenAPI: `product Action (region)`. */
  path: string;
  /** HTTP status; 0 when no answer came. */
  status: number;
  durationMs: number;
  /** Why it is tried again (`HTTP 503`, `ECONNRESET`, `Throttling.User`), when it is. */
  retry?: string;
}

const observers = new AsyncLocalStorage<(e: RequestEvent) => void>();

/** Runs `fn` with every request it makes reported to `observe`. */
export function observeRequests<T>(observe: (e: RequestEvent) => void, fn: () => Promise<T>): Promise<T> {
  return observers.run(observe, fn);
}

/** Reports one request to the run's observer, if any. */
export function reportRequest(e: RequestEvent): void {
  observers.getStore()?.(e);
}
