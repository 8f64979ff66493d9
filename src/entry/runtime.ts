/**
 * The composition root: real SDK clients and the real Kubernetes client, wired into the runner's
 * ports. Shared by the CLI and the FC handler so both run the very same refresh.
 */
import type { Cluster, Fleet } from '../config/resolve.js';
import { CrApi } from '../cloud/cr.js';
import type { CredentialClient } from '../cloud/credentials.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { KubeClusterClient } from '../kube/client.js';
import { kubeConfigFromFile } from '../kube/kubeconfig.js';
import type { ClusterPort } from '../kube/port.js';
import type { Logger, Redactor } from '../log/logger.js';
import type { RunDeps } from '../fleet/run.js';
import { TokenBroker } from '../tokens/broker.js';
import { EnterpriseTokenSource } from '../tokens/enterprise.js';
import { PersonalTokenSource } from '../tokens/personal.js';
import type { TokenSource } from '../tokens/source.js';

export interface RuntimeOptions {
  fleet: Fleet;
  credential: CredentialClient;
  log: Logger;
  redactor: Redactor;
}

/** Runner dependencies over the real clouds. */
export function createRunDeps(opts: RuntimeOptions): RunDeps {
  const cr = new CrApi(new SdkOpenApiCaller({ endpoints: opts.fleet.endpoints, credential: opts.credential }));
  const broker = new TokenBroker(opts.fleet.registries, {
    enterprise: redacting(new EnterpriseTokenSource(cr), opts.redactor),
    personal: redacting(new PersonalTokenSource(cr), opts.redactor),
  });
  return { broker, connect: connectCluster, log: opts.log };
}

/** Opens a cluster from its kubeconfig source. */
export async function connectCluster(cluster: Cluster): Promise<ClusterPort> {
  const kc = await kubeConfigFromFile(cluster.kubeconfig.path, cluster.kubeconfig.display);
  return new KubeClusterClient(kc);
}

/** Registers every fetched password with the redactor before anyone can print it. */
function redacting(source: TokenSource, redactor: Redactor): TokenSource {
  return {
    fetch: async (registry) => {
      const token = await source.fetch(registry);
      redactor.add(token.password);
      return token;
    },
  };
}
