/**
 * An in-process Kubernetes API server emulator for tests and the local sandbox: core/v1
 * Namespaces, Secrets, ServiceAccounts (+ TokenRequest), ConfigMaps, rbac.authorization.k8s.io/v1
 * and SelfSubjectAccessReview, served over HTTPS on 127.0.0.1 to real @kubernetes/client-node
 * clients. See README.md in this folder for what is emulated and what is not.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import jsyaml from 'js-yaml';
import { Authenticator } from './auth.js';
import type { HostileRule } from './hostile.js';
import { type KubeKind, type PolicyVersions, RESOURCES, apiVersionOf } from './kinds.js';
import { bootstrapPolicy } from './rbac.js';
import { type Fault, type RequestRecord, Router } from './server.js';
import { Store, clone } from './store.js';
import type { AuditAnnotation } from './vap.js';

export type { KubeKind, PolicyVersions } from './kinds.js';
export type { HostileRule } from './hostile.js';
export { HOSTILE_PREFIX, HOSTILE_SUFFIX } from './hostile.js';
export type { AuditAnnotation } from './vap.js';
export type { RequestRecord } from './server.js';
export { KubeStatusError } from './status.js';

/** A user a static token authenticates as. */
export interface KubeUser {
  name: string;
  groups?: string[];
}

/** Options of {@link KubeEmulator.start}. */
export interface KubeEmulatorOptions {
  /** Serve HTTPS with test/emulators/tls (default true); false serves plain HTTP. */
  tls?: boolean;
  /**
   * Offer HTTP/2 next to HTTP/1.1 over TLS, chosen by ALPN, as kube-apiserver does (default true). false: HTTP/1.1
   * only, as behind a proxy that does not speak HTTP/2 (the TLS handshake then refuses a client asking for h2 only).
   */
  http2?: boolean;
  /**
   * Added to every request before it is handled, as a network round trip and a busy API server would add it
   * (`npm run bench` uses 50 ms). Default 0.
   */
  latencyMs?: number;
  /**
   * Run the controller-manager's service account controller: every namespace gets a `default`
   * ServiceAccount (the system namespaces at start; a new namespace `delayMs` after it is created,
   * through the admission chain, so webhooks see it). Off by default so tests keep their explicit layout.
   */
  serviceAccountController?: boolean | { delayMs?: number };
  /**
   * Versions of admissionregistration.k8s.io under which ValidatingAdmissionPolicy(Binding) are served:
   * `['v1', 'v1beta1']` (default, 1.30+), `['v1beta1']` (1.28/1.29), `[]` (older: no policies, no admission by them).
   */
  admissionPolicyVersions?: PolicyVersions;
  /** Hostile rules from the start (see {@link KubeEmulator.hostile}). */
  hostile?: HostileRule[];
  /**
   * The controller-manager's token controller for `kubernetes.io/service-account-token` Secrets (default on,
   * `false` switches it off); see {@link KubeEmulator.start}.
   */
  tokenController?: boolean;
}

/** The identity the service account controller creates ServiceAccounts as. */
const SA_CONTROLLER: KubeUser = {
  name: 'system:serviceaccount:kube-system:service-account-controller',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
};

const TLS_DIR = new URL('../tls/', import.meta.url);

/** Namespaces kube-apiserver creates at startup (its system namespaces controller). */
const SYSTEM_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];

/** The emulator: one fake cluster. */
export class KubeEmulator {
  /** Base URL, e.g. `https://127.0.0.1:43121`. */
  readonly url: string;
  private readonly store: Store;
  private readonly auth: Authenticator;
  private readonly router: Router;
  private readonly server: HttpServer;
  private readonly caPem: string | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    store: Store,
    auth: Authenticator,
    router: Router,
    server: HttpServer,
    url: string,
    caPem?: string,
  ) {
    this.store = store;
    this.auth = auth;
    this.router = router;
    this.server = server;
    this.url = url;
    this.caPem = caPem;
  }

  /** Starts an emulator on 127.0.0.1 at a random port. */
  static async start(opts: KubeEmulatorOptions = {}): Promise<KubeEmulator> {
    const tls = opts.tls ?? true;
    const store = new Store();
    const auth = new Authenticator(store);
    let address = '';
    const router = new Router(store, auth, () => address, opts.latencyMs ?? 0, opts.admissionPolicyVersions);
    for (const rule of opts.hostile ?? []) router.hostility.add(rule);
    const handler = (req: Parameters<Router['handle']>[0], res: Parameters<Router['handle']>[1]) =>
      void router.handle(req, res);
    const cert = tls ? readFileSync(new URL('cert.pem', TLS_DIR), 'utf8') : undefined;
    // kube-apiserver serves HTTP/2 and HTTP/1.1 on one TLS port, chosen by ALPN (Go's net/http with h2).
    const key = tls ? readFileSync(new URL('key.pem', TLS_DIR), 'utf8') : undefined;
    const server: HttpServer = !tls
      ? createHttpServer(handler)
      : opts.http2 === false
        ? (createHttpsServer({ cert, key }, handler) as unknown as HttpServer)
        : (createSecureServer({ cert, key, allowHTTP1: true }, handler as never) as unknown as HttpServer);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    // Each accepted connection is one TCP (+TLS) handshake: what a client's connection reuse saves.
    let connections = 0;
    const sockets = new Set<Socket>();
    server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      connections++;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const { port } = server.address() as AddressInfo;
    address = `127.0.0.1:${port}`;
    const emu = new KubeEmulator(store, auth, router, server, `${tls ? 'https' : 'http'}://${address}`, cert);
    emu.connectionCount = () => connections;
    emu.dropConnections = () => {
      for (const s of sockets) s.destroy();
    };
    emu.bootstrap();
    if (opts.tokenController !== false) emu.startTokenController();
    if (opts.serviceAccountController)
      emu.startServiceAccountController(opts.serviceAccountController === true ? {} : opts.serviceAccountController);
    return emu;
  }

  /** What a fresh kube-apiserver holds: system namespaces and the bootstrap RBAC policy. */
  private bootstrap(): void {
    for (const name of SYSTEM_NAMESPACES) this.seed('namespaces', { metadata: { name } });
    const policy = bootstrapPolicy();
    for (const o of policy.clusterroles) this.seed('clusterroles', o);
    for (const o of policy.clusterrolebindings) this.seed('clusterrolebindings', o);
  }

  /**
   * pkg/controller/serviceaccount/serviceaccounts_controller.go: ensures ServiceAccount `default` in
   * every Active namespace; a failed create is retried (the workqueue's rate-limited requeue, here 5
   * tries, 200 ms apart), as the controller does when a webhook with failurePolicy Fail blocks it.
   */
  private startServiceAccountController(o: { delayMs?: number }): void {
    for (const name of SYSTEM_NAMESPACES)
      this.seed('serviceaccounts', { metadata: { namespace: name, name: 'default' } });
    const t = RESOURCES.serviceaccounts;
    const ensure = async (ns: string, tries: number): Promise<void> => {
      const namespace = this.store.get('namespaces', undefined, ns);
      if (!namespace || (namespace.status as { phase?: string } | undefined)?.phase !== 'Active') return;
      if (this.store.get('serviceaccounts', ns, 'default')) return;
      try {
        await this.router.createAs({ name: SA_CONTROLLER.name, groups: SA_CONTROLLER.groups ?? [] }, t, ns, {
          metadata: { name: 'default' },
        });
      } catch {
        if (tries > 1) this.timers.add(setTimeout(() => void ensure(ns, tries - 1), 200));
      }
    };
    this.router.onNamespaceCreated = (ns) => {
      this.timers.add(setTimeout(() => void ensure(ns, 5), o.delayMs ?? 50));
    };
  }

  /**
   * pkg/controller/serviceaccount/tokens_controller.go: a Secret of type `kubernetes.io/service-account-token`
   * annotated `kubernetes.io/service-account.name` gets `data.token` (a legacy token that authenticates as
   * that ServiceAccount), `data.ca.crt` (the cluster CA), `data.namespace` and the
   * `kubernetes.io/service-account.uid` annotation, shortly after it is written; one naming a ServiceAccount
   * that does not exist (or another uid) is deleted. Runs on the next turn of the event loop, as the real
   * controller runs after the write.
   */
  private startTokenController(): void {
    const sync = (ns: string, name: string) => {
      const secret = this.store.get('secrets', ns, name);
      if (!secret || secret.type !== 'kubernetes.io/service-account-token') return;
      const annotations = (secret.metadata.annotations ?? {}) as Record<string, string>;
      const saName = annotations['kubernetes.io/service-account.name'];
      const sa = saName ? this.store.get('serviceaccounts', ns, saName) : undefined;
      const wantUid = annotations['kubernetes.io/service-account.uid'];
      if (!sa || (wantUid && wantUid !== sa.metadata.uid)) {
        this.store.remove('secrets', ns, name);
        return;
      }
      // generateTokenIfNeeded: each of ca.crt, namespace and token is filled when missing (secretUpdateNeeded).
      const data = { ...((secret.data ?? {}) as Record<string, string>) };
      const b64 = (v: string) => Buffer.from(v).toString('base64');
      const ca = this.caPem ? b64(this.caPem) : undefined;
      if (data.token && data.namespace && (!ca || data['ca.crt'] === ca)) return;
      data.token ||= b64(this.auth.mintLegacy(ns, saName as string, sa.metadata.uid as string, name));
      data.namespace ||= b64(ns);
      if (ca) data['ca.crt'] = ca;
      const next = clone(secret);
      next.data = Object.fromEntries(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)));
      next.metadata.annotations = { ...annotations, 'kubernetes.io/service-account.uid': sa.metadata.uid as string };
      this.seed('secrets', next);
    };
    this.router.onSecretWritten = (ns, name) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        sync(ns, name);
      }, 0);
      this.timers.add(timer);
    };
  }

  /**
   * Makes this emulator hostile where `rule.path` matches (every path without one): endless bodies, endless
   * list pages, Status messages echoing request headers, control characters in Status messages and reasons.
   * Rules add up; {@link clearHostile} and {@link reset} drop them.
   */
  hostile(rule: HostileRule): void {
    this.router.hostility.add(rule);
  }

  /** Drops every hostile rule. */
  clearHostile(): void {
    this.router.hostility.clear();
  }

  /** Bytes sent so far by endless bodies. */
  get endlessBytes(): number {
    return this.router.hostility.endlessBytes;
  }

  /** Audit annotations published by policy bindings with the Audit action, in order. */
  get auditAnnotations(): AuditAnnotation[] {
    return this.router.policies.audit;
  }

  /** Registers a static bearer token (like --token-auth-file). Group "system:masters" may do everything. */
  addToken(token: string, user: KubeUser): void {
    this.auth.addToken(token, { name: user.name, groups: user.groups ?? [] });
  }

  /**
   * A kubeconfig (YAML text) for this server authenticating with `token` (no user credentials
   * without one). Context, cluster and user are all named `contextName` (default "emulator"),
   * so kubeconfigs of several emulators can be merged without clashes.
   */
  kubeconfig(opts: { token?: string; contextName?: string }): string {
    const name = opts.contextName ?? 'emulator';
    const cluster: Record<string, string> = { server: this.url };
    if (this.caPem) cluster['certificate-authority-data'] = Buffer.from(this.caPem).toString('base64');
    return jsyaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name, cluster }],
      users: [{ name, user: opts.token ? { token: opts.token } : {} }],
      contexts: [{ name, context: { cluster: name, user: name } }],
      'current-context': name,
    });
  }

  // --- direct store access for tests (no auth, no request counted) -----------------------------

  /**
   * Creates or overwrites an object as-is (fills uid, resourceVersion, creationTimestamp; namespace
   * from obj.metadata.namespace). It is normalized and defaulted like the server would (unknown
   * fields dropped, Secret type Opaque, stringData folded into data) but not validated or admitted.
   * Returns the stored copy (with kind/apiVersion).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  seed(kind: KubeKind, obj: object): any {
    return this.router.operations.seed(kind, obj);
  }

  /** Deep copy of a stored object (with kind/apiVersion, as a GET returns it), or undefined. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  get(kind: KubeKind, namespace: string | undefined, name: string): any | undefined {
    const t = RESOURCES[kind];
    const o = this.store.get(kind, t.namespaced ? namespace : undefined, name);
    return o && { kind: t.kind, apiVersion: apiVersionOf(t), ...clone(o) };
  }

  /** Deep copies of stored objects (with kind/apiVersion), sorted by namespace/name. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  list(kind: KubeKind, namespace?: string): any[] {
    const t = RESOURCES[kind];
    return this.store
      .list(kind, t.namespaced ? namespace : undefined)
      .map((o) => ({ kind: t.kind, apiVersion: apiVersionOf(t), ...clone(o) }));
  }

  /** Marks a namespace Terminating (deletionTimestamp set, status.phase "Terminating"), like a DELETE whose finalizers are still running. */
  terminateNamespace(name: string): void {
    const ns = this.store.get('namespaces', undefined, name);
    if (!ns) throw new Error(`terminateNamespace: namespace ${name} does not exist`);
    this.router.operations.markTerminating(ns);
  }

  /** Completes a namespace deletion: removes the namespace and every object in it. */
  finalizeNamespace(name: string): void {
    if (!this.store.get('namespaces', undefined, name))
      throw new Error(`finalizeNamespace: namespace ${name} does not exist`);
    this.router.operations.finalizeNamespace(name);
  }

  private connectionCount: () => number = () => 0;
  private dropConnections: () => void = () => undefined;

  /** Connections accepted so far (TLS handshakes when serving HTTPS). */
  get connections(): number {
    return this.connectionCount();
  }

  /** Every request served, in order of arrival (for counting requests per cluster). */
  get requests(): RequestRecord[] {
    return this.router.requests;
  }

  /**
   * Back to what a fresh server holds (system namespaces, bootstrap RBAC), without restarting it: every
   * object, pending fault and logged request is dropped. Static tokens are kept; the resourceVersion
   * counter goes on. For property tests that run many worlds against one server.
   */
  reset(): void {
    this.store.clear();
    this.router.clearFaults();
    this.router.hostility.clear();
    this.router.policies.audit.length = 0;
    this.resetRequests();
    this.bootstrap();
  }

  /** Forgets the request log. */
  resetRequests(): void {
    this.router.requests.length = 0;
  }

  /**
   * Fault injection: the next `times` (default 1) requests matching `method` (optional; one or a list)
   * and `path` (a regex tested against the URL path, without query) get `status` and a proper Status
   * body (429 adds `Retry-After: 1`). `delayMs` delays before failing, or alone only delays.
   * `status: 0` destroys the socket (connection reset) before the request is served; with `after: true`
   * the request is served first (a write takes effect) and the socket is destroyed instead of answering.
   * `hang: true` never answers (the connection stays open until the client gives up).
   * `share` (0..1) hits only that fraction of the matching requests, spread evenly and deterministically
   * (the n-th match is hit when ⌊n·share⌋ > ⌊(n−1)·share⌋, so 0.3 hits the 4th, 7th and 10th of every 10);
   * `times` then counts the hits. Faults apply before authentication is enforced, like a failing proxy
   * in front.
   */
  injectFault(f: Fault): void {
    this.router.addFault(f);
  }

  /** Stops the server, dropping open keep-alive connections. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.dropConnections();
    });
  }
}

/** Convenience for `KubeEmulator.start(opts)`. */
export async function startKube(opts?: KubeEmulatorOptions): Promise<KubeEmulator> {
  return KubeEmulator.start(opts);
}
