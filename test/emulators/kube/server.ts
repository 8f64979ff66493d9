/**
 * HTTP plumbing: the filter chain of kube-apiserver in the order that matters for tests —
 * (fault injection) → authentication (401) → request info → authorization (403) → handler.
 * Request attributes follow k8s.io/apiserver/pkg/endpoints/request/requestinfo.go: fewer than three
 * path segments is a non-resource request; `/namespaces/{ns}` makes {ns} both the name and the
 * namespace; GET without a name is `list` (or `watch`), DELETE without a name `deletecollection`,
 * and a list or watch with `fieldSelector=metadata.name=x` is authorized as if named x (a
 * deletecollection never is: its field selector is not read). RBAC then matches `resourceNames`
 * against that name only (evaluation_helpers.go ResourceNameMatches), so a rule with resourceNames
 * never allows create (POST to the collection has no name) or deletecollection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ListQuery, Reply, RequestContext } from './api.js';
import { Api } from './api.js';
import { MutatingAdmission } from './admission.js';
import type { Authenticator } from './auth.js';
import { Hostility } from './hostile.js';
import {
  ADMISSION_REGISTRATION,
  POLICY_KINDS,
  type PolicyVersions,
  RESOURCES,
  type ResourceType,
  apiVersionOf,
  lookupResource,
} from './kinds.js';
import { metadataOnly, wantsMetadata } from './metadata.js';
import { type Attributes, type UserInfo, authorize, forbiddenError } from './rbac.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { KubeStatusError, generic, internalError, unauthorized } from './status.js';
import type { Store } from './store.js';
import { PolicyAdmission } from './vap.js';

/** One line of the request log. */
export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  user: string;
  status: number;
}

/** A pending fault injection rule; see KubeEmulator.injectFault. */
export interface Fault {
  method?: string | readonly string[];
  path: RegExp;
  status?: number;
  reason?: string;
  message?: string;
  times?: number;
  delayMs?: number;
  /** Fraction of matching requests hit, spread evenly: the n-th match is hit when ⌊n·share⌋ > ⌊(n−1)·share⌋. */
  share?: number;
  /** With status 0: serve the request (a write takes effect), then reset the connection instead of answering. */
  after?: boolean;
  /** Never answer: hold the connection open until the client gives up or the emulator closes. */
  hang?: boolean;
}

/** apiserver's default --max-request-bytes for JSON bodies (3 MiB). */
const MAX_BODY = 3 * 1024 * 1024;

/** JSON as Go's json.Encoder writes it: HTML-sensitive characters escaped (`<` → `\u003c`). */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // A client that hangs up mid-request: what arrived (the answer goes nowhere).
    req.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The request-info of a URL, before the user is known. */
function requestInfo(method: string, url: URL): Omit<Attributes, 'user'> & { parts: string[]; apiPrefix: string } {
  const segments = url.pathname.split('/').filter(Boolean);
  const info = {
    verb: method.toLowerCase(),
    resourceRequest: false,
    path: url.pathname,
    apiGroup: '',
    apiVersion: '',
    resource: '',
    subresource: '',
    namespace: '',
    name: '',
    parts: [] as string[],
    apiPrefix: '',
  };
  if (segments.length < 3 || (segments[0] !== 'api' && segments[0] !== 'apis')) return info;
  let rest = segments.slice(1);
  info.apiPrefix = segments[0] as string;
  if (info.apiPrefix === 'apis') {
    if (rest.length < 3) return info;
    info.apiGroup = rest[0] as string;
    rest = rest.slice(1);
  }
  info.resourceRequest = true;
  info.apiVersion = rest[0] as string;
  rest = rest.slice(1);
  info.verb =
    { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[method] ?? '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    info.namespace = rest[1] as string;
    if (rest.length > 2 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
  }
  info.parts = rest;
  info.resource = rest[0] ?? '';
  info.name = rest[1] ?? '';
  info.subresource = rest[2] ?? '';
  if (!info.name && info.verb === 'get') {
    const watch = url.searchParams.get('watch');
    info.verb = watch !== null && !['false', '0'].includes(watch.toLowerCase()) ? 'watch' : 'list';
    // The name comes from fieldSelector's RequiresExactMatch("metadata.name") (first `=`/`==` term), if
    // it is a valid path segment, and only when the whole ListOptions decode: any bad parameter leaves
    // the list unnamed (the list handler then reports the bad parameter).
    try {
      const q = url.searchParams;
      parseLabelSelector(q.get('labelSelector') ?? '');
      for (const p of ['limit', 'timeoutSeconds'])
        if (q.has(p) && !/^[+-]?\d+$/.test(q.get(p) ?? '')) throw new Error(p);
      const term = parseFieldSelector(q.get('fieldSelector') ?? '').terms.find(
        (t) => t.field === 'metadata.name' && t.op === '=',
      );
      if (term && !/[/%]/.test(term.value) && term.value !== '.' && term.value !== '..') info.name = term.value;
    } catch {
      // Unnamed list: authorized as a list of the whole collection.
    }
  }
  if (!info.name && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}

/** The request handler shared by the HTTP and HTTPS servers. */
export class Router {
  readonly requests: RequestRecord[] = [];
  private faults: (Fault & { remaining: number; seen: number })[] = [];
  private readonly api: Api;
  private readonly admission: MutatingAdmission;
  /** The ValidatingAdmissionPolicy plugin (on while any version of the policy kinds is served). */
  readonly policies: PolicyAdmission;
  /** Hostile behaviour for tests of a misbehaving cluster; see hostile.ts. */
  readonly hostility = new Hostility();
  /** Called after a Namespace was created through the API (the service account controller listens). */
  onNamespaceCreated?: (name: string) => void;
  /** Called after a Secret was written through the API (the token controller listens). */
  onSecretWritten?: (namespace: string, name: string) => void;

  constructor(
    private readonly store: Store,
    private readonly auth: Authenticator,
    private readonly serverAddress: () => string,
    private readonly latencyMs = 0,
    private readonly policyVersions: PolicyVersions = ['v1', 'v1beta1'],
  ) {
    this.policies = new PolicyAdmission(store);
    this.api = new Api(store, auth, () => (this.policyVersions.length ? this.policies : undefined));
    this.admission = new MutatingAdmission(store);
  }

  /**
   * A create through the whole admission chain (NamespaceLifecycle, then the mutating webhooks), as
   * a controller's client request would go; used by the emulated service account controller.
   */
  async createAs(
    user: UserInfo,
    t: ResourceType,
    ns: string | undefined,
    body: object,
    dryRun = false,
  ): Promise<Reply> {
    const { obj, warnings } = this.api.prepareCreate(t, ns, JSON.stringify(body), 'application/json');
    const admitted = await this.admission.admitCreate(t, obj, user, dryRun);
    const committed = this.api.commitCreate(t, admitted === obj ? obj : this.api.redecode(t, admitted), dryRun, {
      user,
      dryRun,
    });
    const reply = { ...committed, warnings: [...warnings, ...(committed.warnings ?? [])] };
    if (t.resource === 'namespaces' && !dryRun)
      this.onNamespaceCreated?.((reply.body as { metadata: { name: string } }).metadata.name);
    return reply;
  }

  /** Operations for the emulator's direct store helpers. */
  get operations(): Api {
    return this.api;
  }

  /** Drops every pending fault. */
  clearFaults(): void {
    this.faults = [];
  }

  /** Queues a fault; see KubeEmulator.injectFault. */
  addFault(f: Fault): void {
    this.faults.push({ ...f, remaining: f.times ?? 1, seen: 0 });
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const methodMatches = (m: Fault['method']) =>
      !m || (typeof m === 'string' ? [m] : m).some((x) => x.toUpperCase() === method);
    for (const f of this.faults) {
      if (f.remaining <= 0 || !methodMatches(f.method) || !f.path.test(path)) continue;
      if (f.share !== undefined) {
        const n = ++f.seen;
        // A match this rule passes over goes on to later rules, as if this rule did not exist.
        if (Math.floor(n * f.share) <= Math.floor((n - 1) * f.share)) continue;
      }
      f.remaining--;
      this.faults = this.faults.filter((x) => x.remaining > 0);
      return f;
    }
    return undefined;
  }

  /** Serves one request. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://emulator');
    const record: RequestRecord = {
      method,
      path: url.pathname,
      query: url.search.replace(/^\?/, ''),
      user: '',
      status: 0,
    };
    let resetAfter = false;
    this.requests.push(record);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (resetAfter) {
        record.status = 0;
        req.socket.destroy();
        return;
      }
      record.status = status;
      const text = typeof body === 'string' ? body : goJson(body);
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
        'cache-control': 'no-cache, private',
        'content-length': Buffer.byteLength(text),
        ...headers,
      });
      res.end(text);
    };
    const hostile = this.hostility.match(url.pathname);
    const sendError = (e: KubeStatusError) => {
      const status = e.toStatus();
      if (hostile?.controlCharacters) Hostility.poison(status);
      send(e.code, status, e.headers);
    };
    try {
      // Faults go to requests in arrival order: taken before the body is read, so a request its client
      // abandons early still takes its fault instead of passing it to the next one.
      const user = this.auth.authenticate(req.headers.authorization);
      record.user = user?.name ?? '';
      const fault = this.takeFault(method, url.pathname);
      const raw = await readBody(req);
      if (this.latencyMs) await sleep(this.latencyMs);
      if (fault) {
        if (fault.hang) {
          record.status = 0;
          // Resolves when the client (or close()) drops the connection; nothing is ever sent.
          if (!req.socket.destroyed) await new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
          return;
        }
        if (fault.delayMs) await sleep(fault.delayMs);
        if (fault.status === 0 && fault.after) {
          // Served in full (the write is stored), then the connection drops before the answer: the
          // client cannot tell this from a reset before the write.
          resetAfter = true;
        } else if (fault.status === 0) {
          record.status = 0;
          req.socket.destroy();
          return;
        }
        if (fault.status !== undefined && !resetAfter) {
          const e = generic(fault.status, fault.reason, fault.message);
          // The max-in-flight filter's 429 tells clients when to come back.
          const headers: Record<string, string> = fault.status === 429 ? { 'retry-after': '1' } : {};
          if (fault.status === 429) e.details!.retryAfterSeconds = 1;
          return sendError(new KubeStatusError(e.code, e.reason, e.message, e.details, headers));
        }
      }
      if (hostile?.echoHeaders) return sendError(Hostility.echo(req.headers, hostile));
      if (hostile?.endlessBody) {
        record.status = 200;
        return await this.hostility.endlessBody(res, hostile);
      }
      if (!user) return sendError(unauthorized());
      if (Buffer.byteLength(raw) > MAX_BODY) {
        return sendError(
          new KubeStatusError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY}`),
        );
      }
      const info = requestInfo(method, url);
      const attrs: Attributes = { ...info, user };
      const metadata = info.resourceRequest ? wantsMetadata(req.headers.accept) : undefined;
      const decision = authorize(this.store, attrs);
      if (!decision.allowed) return sendError(forbiddenError(attrs, decision.reason));
      let reply = info.resourceRequest
        ? await this.resource(info, url, raw, req.headers['content-type'], attrs)
        : this.nonResource(method, url.pathname);
      if (info.verb === 'list' && hostile?.endlessPages) reply = Hostility.endlessPage(reply, url);
      if (metadata && (info.verb === 'list' || info.verb === 'get')) reply = metadataOnly(reply, metadata);
      const headers: Record<string, string> = {};
      if (reply.warnings?.length) {
        headers.warning = reply.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
      }
      send(reply.status, reply.body, headers);
    } catch (e) {
      if (e instanceof KubeStatusError) return sendError(e);
      sendError(internalError((e as Error).message));
    }
  }

  private async resource(
    info: ReturnType<typeof requestInfo>,
    url: URL,
    raw: string,
    contentType: string | undefined,
    attrs: Attributes,
  ): Promise<Reply> {
    const { apiGroup, apiVersion, resource, name, subresource, verb } = info;
    const ns = info.namespace || undefined;
    const q = Object.fromEntries(url.searchParams) as ListQuery;
    // Virtual resources.
    if (
      apiGroup === 'authorization.k8s.io' &&
      apiVersion === 'v1' &&
      resource === 'selfsubjectaccessreviews' &&
      !ns &&
      !name
    ) {
      if (verb !== 'create') throw generic(405);
      return this.api.selfSubjectAccessReview(attrs.user, raw, contentType);
    }
    const t = lookupResource(apiGroup, apiVersion, resource, this.policyVersions);
    if (!t || (ns && !t.namespaced && resource !== 'namespaces') || info.parts.length > 3) throw generic(404);
    if (subresource) {
      if (resource === 'serviceaccounts' && subresource === 'token' && ns) {
        if (verb !== 'create') throw generic(405);
        return this.api.tokenRequest(ns, name, raw, contentType);
      }
      throw generic(404);
    }
    const nsArg = t.namespaced ? ns : undefined;
    // Create/Update/Patch/DeleteOptions.dryRun: "All" is the only value (apimachinery ValidateDryRun).
    const dryRuns = url.searchParams.getAll('dryRun');
    const bad = dryRuns.find((v) => v !== 'All');
    if (bad !== undefined && verb !== 'get' && verb !== 'list' && verb !== 'watch')
      throw new KubeStatusError(400, 'BadRequest', `Unsupported value: "${bad}": supported values: "All"`);
    const ctx: RequestContext = { user: attrs.user, dryRun: dryRuns.length > 0 };
    const collectionOnly = t.namespaced && !ns; // /api/v1/secrets: list across namespaces only
    switch (verb) {
      case 'list':
        return this.api.list(t, nsArg, q);
      case 'watch':
        throw new KubeStatusError(405, 'MethodNotAllowed', 'the Kubernetes emulator does not implement watch', {});
      case 'get':
        return this.api.get(t, nsArg, name);
      case 'create': {
        if (collectionOnly || name) throw generic(405);
        const { obj, warnings } = this.api.prepareCreate(t, nsArg, raw, contentType);
        const admitted = await this.admission.admitCreate(t, obj, attrs.user, ctx.dryRun);
        const committed = this.api.commitCreate(
          t,
          admitted === obj ? obj : this.api.redecode(t, admitted),
          ctx.dryRun,
          ctx,
        );
        const reply = { ...committed, warnings: [...warnings, ...(committed.warnings ?? [])] };
        if (!ctx.dryRun) this.written(t, reply);
        if (t.resource === 'namespaces' && !ctx.dryRun)
          this.onNamespaceCreated?.((reply.body as { metadata: { name: string } }).metadata.name);
        return reply;
      }
      case 'update': {
        if (!name) throw generic(405);
        const reply = this.api.update(t, nsArg, name, raw, contentType, ctx);
        if (!ctx.dryRun) this.written(t, reply);
        return reply;
      }
      case 'patch': {
        if (!name) throw generic(405);
        const reply = this.api.patch(t, nsArg, name, raw, contentType, ctx);
        if (!ctx.dryRun) this.written(t, reply);
        return reply;
      }
      case 'delete':
        return this.api.delete(t, nsArg, name, raw, ctx);
      case 'deletecollection':
        if (collectionOnly) throw generic(405);
        return this.api.deleteCollection(t, nsArg, q, ctx);
      default:
        throw generic(405);
    }
  }

  private written(t: ResourceType, reply: Reply): void {
    if (t.resource !== 'secrets') return;
    const m = (reply.body as { metadata?: { namespace?: string; name?: string } }).metadata;
    if (m?.namespace && m.name) this.onSecretWritten?.(m.namespace, m.name);
  }

  /** Discovery and version documents (enough for clients that discover before they call). */
  private nonResource(method: string, path: string): Reply {
    if (method !== 'GET') throw generic(405);
    const p = path.replace(/\/+$/, '') || '/';
    const resourceList = (groupVersion: string, group: string, only?: readonly string[]) => ({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion,
      resources: Object.values(RESOURCES)
        .filter((t) => t.group === group && (only ?? Object.keys(RESOURCES)).includes(t.resource))
        .filter(
          (t) =>
            !POLICY_KINDS.includes(t.resource) ||
            (this.policyVersions as string[]).includes(groupVersion.split('/')[1] ?? ''),
        )
        .flatMap((t) => [
          {
            name: t.resource,
            singularName: t.singular,
            namespaced: t.namespaced,
            kind: t.kind,
            verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
          },
          ...(t.resource === 'serviceaccounts'
            ? [
                {
                  name: 'serviceaccounts/token',
                  singularName: '',
                  namespaced: true,
                  group: 'authentication.k8s.io',
                  version: 'v1',
                  kind: 'TokenRequest',
                  verbs: ['create'],
                },
              ]
            : []),
        ]),
    });
    const groups = [
      ['rbac.authorization.k8s.io', 'v1'],
      [ADMISSION_REGISTRATION, 'v1'],
      ['authorization.k8s.io', 'v1'],
      ['authentication.k8s.io', 'v1'],
    ];
    const apiGroup = (name: string, v: string) => ({
      name,
      versions: [
        { groupVersion: `${name}/${v}`, version: v },
        // The policy kinds' older version, served next to v1 (or alone: then v1 lists only webhooks).
        ...(name === ADMISSION_REGISTRATION && this.policyVersions.includes('v1beta1')
          ? [{ groupVersion: `${name}/v1beta1`, version: 'v1beta1' }]
          : []),
      ],
      preferredVersion: { groupVersion: `${name}/${v}`, version: v },
    });
    // `/apis/<group>`: the group's own document (APIGroup), as discovery/groupversion.go serves it.
    const group = groups.find(([name]) => p === `/apis/${name}`);
    if (group)
      return { status: 200, body: { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group[0] ?? '', group[1] ?? '') } };
    switch (p) {
      case '/api':
        return {
          status: 200,
          body: {
            kind: 'APIVersions',
            versions: ['v1'],
            serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.serverAddress() }],
          },
        };
      case '/api/v1':
        return { status: 200, body: resourceList('v1', '') };
      case '/apis':
        return {
          status: 200,
          body: {
            kind: 'APIGroupList',
            apiVersion: 'v1',
            groups: groups.map(([name, v]) => apiGroup(name ?? '', v ?? '')),
          },
        };
      case `/apis/${apiVersionOf(RESOURCES.roles)}`:
        return { status: 200, body: resourceList(apiVersionOf(RESOURCES.roles), RESOURCES.roles.group) };
      case `/apis/${ADMISSION_REGISTRATION}/v1`:
        return { status: 200, body: resourceList(`${ADMISSION_REGISTRATION}/v1`, ADMISSION_REGISTRATION) };
      case `/apis/${ADMISSION_REGISTRATION}/v1beta1`:
        if (!this.policyVersions.includes('v1beta1')) throw generic(404);
        return {
          status: 200,
          body: resourceList(`${ADMISSION_REGISTRATION}/v1beta1`, ADMISSION_REGISTRATION, POLICY_KINDS),
        };
      case '/version':
        return {
          status: 200,
          body: {
            major: '1',
            minor: '26',
            gitVersion: 'v1.26.1',
            gitCommit: '0000000000000000000000000000000000000000',
            gitTreeState: 'clean',
            buildDate: '2023-01-18T15:51:25Z',
            goVersion: 'go1.19.5',
            compiler: 'gc',
            platform: 'linux/amd64',
          },
        };
      case '/healthz':
      case '/livez':
      case '/readyz':
        return { status: 200, body: 'ok' };
      default:
        throw generic(404);
    }
  }
}
