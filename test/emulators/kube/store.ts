/**
 * The object store: what etcd is to kube-apiserver. One global resourceVersion counter that every
 * write bumps (etcd's revision), objects kept without kind/apiVersion (added on output), and
 * listing ordered by key, i.e. namespace then name, as etcd range reads return them.
 */
import { randomUUID } from 'node:crypto';
import type { KubeKind } from './kinds.js';
import { objectMeta } from './schema.js';

/** A stored object (JSON, metadata always present). */
export type Obj = Record<string, unknown> & { metadata: Record<string, unknown> };

/** RFC 3339 at second precision in UTC, as metav1.Time serializes. */
export function nowTimestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Deep copy (objects are plain JSON). */
export const clone = <T>(v: T): T => structuredClone(v);

/** In-memory storage for all kinds. */
export class Store {
  private revision = 0;
  private readonly byKind = new Map<KubeKind, Map<string, Obj>>();

  /** The current revision, the `resourceVersion` of lists. */
  get resourceVersion(): string {
    return String(this.revision);
  }

  private bucket(kind: KubeKind): Map<string, Obj> {
    let b = this.byKind.get(kind);
    if (!b) this.byKind.set(kind, (b = new Map()));
    return b;
  }

  private static key(ns: string | undefined, name: string): string {
    return ns ? `${ns}/${name}` : name;
  }

  /** The stored object itself (callers must not mutate it); undefined if absent. */
  get(kind: KubeKind, ns: string | undefined, name: string): Obj | undefined {
    return this.bucket(kind).get(Store.key(ns, name));
  }

  /** Stored objects of a kind, optionally in one namespace, ordered by namespace then name. */
  list(kind: KubeKind, ns?: string): Obj[] {
    const out: Obj[] = [];
    for (const [key, o] of [...this.bucket(kind)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (ns === undefined || key.startsWith(`${ns}/`)) out.push(o);
    }
    return out;
  }

  /**
   * Writes `obj` (a fresh copy the store now owns), stamping a new resourceVersion and, when
   * missing, uid and creationTimestamp. Returns the stored object.
   */
  put(kind: KubeKind, obj: Obj): Obj {
    const m = obj.metadata;
    m.uid ??= randomUUID();
    m.creationTimestamp ??= nowTimestamp();
    m.resourceVersion = String(++this.revision);
    // Keep ObjectMeta in Go struct order (system fields are stamped last but serialize early).
    obj.metadata = Object.fromEntries(
      Object.keys(objectMeta.fields)
        .filter((k) => m[k] !== undefined)
        .map((k) => [k, m[k]]),
    );
    this.bucket(kind).set(Store.key(m.namespace as string | undefined, m.name as string), obj);
    return obj;
  }

  /** Forgets every object (the revision counter goes on, so resourceVersions stay unique). */
  clear(): void {
    this.byKind.clear();
  }

  /** Removes an object; a delete is a write, so the revision moves on. */
  remove(kind: KubeKind, ns: string | undefined, name: string): void {
    if (this.bucket(kind).delete(Store.key(ns, name))) this.revision++;
  }
}
