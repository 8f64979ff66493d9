/**
 * The webhook's work for one admission request, and what a warm instance keeps between requests:
 * the KMS key (to check URL secrets), registry tokens (while valid beyond the cluster's threshold) and
 * one ClusterClient per cluster (for a bounded time; never closed per request). The Secret is created
 * exactly as a refresh creates it (same template, same broker, same least-privilege identity); an
 * existing Secret is left to the timer. It never denies: errors become HTTP 500, so the API server
 * applies the configured failurePolicy, and the next refresh repairs what was missed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Cluster, Fleet, Registry } from '../config/resolve.js';
import type { KmsApi } from '../cloud/kms.js';
import { AcrFleetError, describeError } from '../errors.js';
import type { ClusterClient } from '../kube/cluster-client.js';
import type { Fields, Logger, Redactor } from '../log/logger.js';
import { desiredSecret, secretTemplate } from '../reconcile/dockerconfig.js';
import { selectionOf, type ConfigMapReader } from '../reconcile/selection.js';
import type { RegistryToken } from '../tokens/source.js';
import type { TokenBroker } from '../tokens/broker.js';
import {
  decide,
  parseReview,
  pullSecretPatch,
  reviewResponse,
  type AdmissionRequest,
  type PatchOp,
} from './admission.js';
import { parsePath, secretMatches } from '../policy/webhook-url.js';

/** An HTTP request as the function sees it (already decoded from the trigger's event). */
export interface WebhookRequest {
  method: string;
  path: string;
  body: string;
}

/** The HTTP answer (FC maps it onto the response). */
export interface WebhookResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The clients the service works through, built by the entry point (the only place that builds clients). */
export interface WebhookClients {
  broker: TokenBroker;
  /** Opens a cluster (loads its kubeconfig). */
  connect(cluster: Cluster): Promise<ClusterClient>;
  kms: Pick<KmsApi, 'secretValue'>;
}

/**
 * Builds the clients for the fleet as the service tightens it (its Kubernetes budgets fit the API server's
 * webhook timeout); their logs go to `log`.
 */
export type WebhookClientFactory = (fleet: Fleet, log: Logger) => WebhookClients;

export interface WebhookServiceOptions {
  fleet: Fleet;
  redactor: Redactor;
  clients: WebhookClientFactory;
  now?: () => number;
  /** How long a cluster connection is reused (default 5 min; never past the kubeconfig credential's expiry). */
  portTtlMs?: number;
  /** How long the KMS key is reused (default 5 min), so a rotated key takes effect soon. */
  keyTtlMs?: number;
}

/** What one admission request led to, for the log line and the tests. */
export type Outcome = 'patched' | 'created and patched' | 'skipped' | 'conflict';

/** A JSON answer. */
export const json = (statusCode: number, body: unknown): WebhookResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export class WebhookService {
  private readonly clients: WebhookClients;
  private readonly clusterClients = new Map<string, { client: Promise<ClusterClient>; until: number }>();
  private key: { value: Promise<string>; until: number } | undefined;
  private readonly now: () => number;

  private readonly opts: WebhookServiceOptions;

  /** The logger of the request whose async context is running. */
  private readonly requestLog = new AsyncLocalStorage<Logger>();

  constructor(
    opts: WebhookServiceOptions,
    private readonly log: Logger,
  ) {
    this.now = opts.now ?? Date.now;
    // The API server waits timeoutSeconds for the answer: a cluster's retries and each request must end well
    // within it (half the shortest), or the failure policy applies before the function has decided anything.
    const k = opts.fleet.kubernetes;
    const budgetMs = (Math.min(...opts.fleet.clusters.map((c) => c.webhook.timeoutSeconds)) * 1000) / 2;
    this.opts = {
      ...opts,
      fleet: {
        ...opts.fleet,
        kubernetes: {
          ...k,
          retryBudgetMs: Math.min(k.retryBudgetMs, budgetMs),
          requestTimeoutMs: Math.min(k.requestTimeoutMs, budgetMs),
        },
      },
    };
    // One set of clients for the instance's life; what they log goes to the request they work for (an
    // instance serves several at once: each carries its logger in its async context, none is swapped).
    const current = Object.fromEntries(
      LEVELS.map((level) => [
        level,
        (msg: string, fields?: Fields) => (this.requestLog.getStore() ?? this.log)[level](msg, fields),
      ]),
    ) as Record<(typeof LEVELS)[number], Logger['info']>;
    this.clients = opts.clients(this.opts.fleet, current);
  }

  /**
   * Answers one HTTP request, logging to `log` (FC gives each invocation its request id; the service's own
   * logger when absent). Never throws.
   */
  handle(req: WebhookRequest, log: Logger = this.log): Promise<WebhookResponse> {
    return this.requestLog.run(log, () => this.answer(req, log));
  }

  private async answer(req: WebhookRequest, log: Logger): Promise<WebhookResponse> {
    const started = this.now();
    const target = parsePath(req.path);
    const cluster = target && this.opts.fleet.clusters.find((c) => c.name === target.cluster);
    const endpoint = this.opts.fleet.webhook;
    if (!target || !cluster || !endpoint) {
      log.warn('admission request refused: unknown path', { event: 'admission-refused' });
      return json(401, { message: 'unauthorized' });
    }
    let key: string;
    try {
      key = await this.webhookKey(endpoint.keySecret, endpoint.regionId);
    } catch (err) {
      log.error(`cluster ${cluster.name}: webhook: key ${endpoint.keySecret}: ${describeError(err)}`, {
        event: 'admission-error',
        cluster: cluster.name,
      });
      return json(500, { message: 'webhook key unavailable' });
    }
    if (!secretMatches(key, cluster.name, target.secret)) {
      log.warn(`cluster ${cluster.name}: admission request refused: wrong URL secret`, {
        event: 'admission-refused',
        cluster: cluster.name,
      });
      return json(401, { message: 'unauthorized' });
    }
    if (req.method.toUpperCase() !== 'POST') return json(405, { message: 'method not allowed' });
    const review = parseReview(req.body);
    if (!review?.request)
      return json(400, { message: 'expected an admission.k8s.io/v1 AdmissionReview with a request' });
    const request = review.request;
    try {
      const { outcome, why, patch } = await this.admit(cluster, request);
      log.info(
        `cluster ${cluster.name}: ServiceAccount ${request.namespace ?? ''}/${request.object?.metadata?.name ?? ''}: ${outcome}${why ? ` (${why})` : ''}`,
        {
          event: 'admission',
          cluster: cluster.name,
          outcome,
          dryRun: request.dryRun === true,
          durationMs: this.now() - started,
        },
      );
      return json(200, reviewResponse(request.uid, patch));
    } catch (err) {
      this.forgetPort(cluster.name);
      log.error(`cluster ${cluster.name}: webhook: ${describeError(err)}`, {
        event: 'admission-error',
        cluster: cluster.name,
        durationMs: this.now() - started,
      });
      // Not a review: the API server treats it as a call failure and applies failurePolicy.
      return json(500, { message: `cluster ${cluster.name}: webhook failed; the failure policy applies` });
    }
  }

  /** Releases cached cluster connections. */
  async close(): Promise<void> {
    const cached = [...this.clusterClients.values()];
    this.clusterClients.clear();
    for (const p of cached)
      await p.client.then(
        (x) => x.close(),
        () => undefined,
      );
  }

  private async admit(
    cluster: Cluster,
    request: AdmissionRequest,
  ): Promise<{ outcome: Outcome; why?: string; patch?: PatchOp[] }> {
    // The cluster is connected only when its selection lives in its ConfigMap, or when there is work; its
    // cached connections are used with this request's own retry budget.
    let scoped: Promise<ClusterClient> | undefined;
    const clientOf = () => (scoped ??= this.clientOf(cluster).then((c) => (c.forRequest ? c.forRequest() : c)));
    const lazy: ConfigMapReader = {
      readConfigMap: async (namespace, name) => (await clientOf()).readConfigMap(namespace, name),
    };
    const { settings, registries } = await selectionOf(cluster, this.opts.fleet.registries, lazy);
    if (!settings.webhook.enabled) return { outcome: 'skipped', why: 'webhook not enabled' };
    const decision = decide(request, settings);
    if (!decision.act) return { outcome: 'skipped', why: decision.why };
    const patch = pullSecretPatch(request.object, settings.secretName);
    if (!patch.length) return { outcome: 'skipped', why: 'already referenced' };

    const client = await clientOf();
    const name = settings.secretName;
    const existing = await client.readSecret(decision.namespace, name);
    if (existing) {
      if (!existing.owned) return { outcome: 'conflict', why: `Secret ${name} exists and is not managed by acr-fleet` };
      return { outcome: 'patched', patch };
    }
    // Dry run: say what a real create would get, write nothing.
    if (request.dryRun === true) return { outcome: 'patched', why: 'dry run', patch };
    const tokens = await this.tokens(registries, settings.expiringThresholdMs);
    // 'exists' means someone else's Secret of that name (one of ours counts as created).
    const created = await client.createSecret(
      desiredSecret(secretTemplate(tokens, { accelerated: settings.acceleration === true }), decision.namespace, name),
    );
    if (created === 'exists')
      return { outcome: 'conflict', why: `Secret ${name} exists and is not managed by acr-fleet` };
    return { outcome: 'created and patched', patch };
  }

  /** Tokens kept while they outlive the cluster's threshold, fetched anew otherwise (as a refresh would rewrite them). */
  private tokens(registries: Registry[], thresholdMs: number): Promise<RegistryToken[]> {
    return Promise.all(registries.map((r) => this.clients.broker.fresh(r, thresholdMs, this.now())));
  }

  private clientOf(cluster: Cluster): Promise<ClusterClient> {
    const now = this.now();
    const hit = this.clusterClients.get(cluster.name);
    if (hit && hit.until > now) return hit.client;
    if (hit) this.forgetPort(cluster.name);
    const ttl = this.opts.portTtlMs ?? 5 * 60_000;
    const entry = { client: this.clients.connect(cluster), until: now + ttl };
    entry.client.then(
      (p) => {
        if (p.credentialExpiresAt !== undefined) entry.until = Math.min(entry.until, p.credentialExpiresAt - 60_000);
      },
      () => {
        if (this.clusterClients.get(cluster.name) === entry) this.clusterClients.delete(cluster.name);
      },
    );
    this.clusterClients.set(cluster.name, entry);
    return entry.client;
  }

  private forgetPort(name: string): void {
    const hit = this.clusterClients.get(name);
    if (!hit) return;
    this.clusterClients.delete(name);
    hit.client.then(
      (p) => p.close(),
      () => undefined,
    );
  }

  private webhookKey(secretName: string, region: string): Promise<string> {
    const now = this.now();
    if (this.key && this.key.until > now) return this.key.value;
    const entry = {
      value: this.clients.kms.secretValue(region, secretName).then((k) => {
        this.opts.redactor.add(k);
        if (!k.trim()) throw new AcrFleetError('the KMS secret is empty');
        return k.trim();
      }),
      until: now + (this.opts.keyTtlMs ?? 5 * 60_000),
    };
    entry.value.catch(() => {
      if (this.key === entry) this.key = undefined;
    });
    this.key = entry;
    return entry.value;
  }
}
