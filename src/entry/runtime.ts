/**
 * The composition root: real SDK clients and the real Kubernetes client, wired into the runner's
 * ports. Shared by the CLI and the FC handler so both run the very same refresh.
 */
import path from 'node:path';
import type { Cluster, Fleet, Registry } from '../config/resolve.js';
import { CrApi } from '../cloud/cr.js';
import { CsApi } from '../cloud/cs.js';
import { KmsApi } from '../cloud/kms.js';
import { AcrFleetError } from '../errors.js';
import type { CredentialClient } from '../cloud/credentials.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { connectCluster } from '../kube/client.js';
import { credentialExpiry } from '../kube/credential.js';
import { endpointOfContext, readKubeconfig, readText } from '../kube/kubeconfig.js';
import type { Endpoint } from '../kube/transport.js';
import type { ClusterPort } from '../kube/port.js';
import type { Logger, Redactor } from '../log/logger.js';
import type { RunDeps } from '../fleet/run.js';
import { TokenBroker } from '../tokens/broker.js';
import { RegistryIdentities } from '../tokens/identity.js';
import { EnterpriseTokenSource } from '../tokens/enterprise.js';
import { PersonalTokenSource } from '../tokens/personal.js';
import type { TokenSource } from '../tokens/source.js';

export interface RuntimeOptions {
  fleet: Fleet;
  credential: CredentialClient;
  log: Logger;
  redactor: Redactor;
  /** Kubeconfig files are for local runs; the deployed function refuses them. */
  allowFileKubeconfig: boolean;
  /**
   * Resolves a kubeconfig whose user is a credential plugin (`exec`, `auth-provider`). Local runs only:
   * the deployed function has none and refuses such kubeconfigs (a plugin runs a command).
   */
  resolvePlugin?: (text: string, source: string, baseDir?: string) => Promise<Endpoint>;
}

/** Runner dependencies over the real clouds. */
export function createRunDeps(opts: RuntimeOptions): RunDeps {
  const callerFor = (credential: CredentialClient) =>
    new SdkOpenApiCaller({ endpoints: opts.fleet.endpoints, credential });
  const own = callerFor(opts.credential);
  const kms = new KmsApi(own);
  const cs = new CsApi(own);
  const identities = new RegistryIdentities({ baseCaller: own, callerFor, onSecret: (v) => opts.redactor.add(v) });
  const crFor = async (registry: Registry) => new CrApi(await identities.caller(registry));
  const broker = new TokenBroker(
    {
      enterprise: redacting(new EnterpriseTokenSource(crFor), opts.redactor),
      personal: redacting(new PersonalTokenSource(crFor), opts.redactor),
    },
    opts.log,
  );
  /** Opens a cluster from kubeconfig text; `expires` says whether its credential's expiry is worth reporting. */
  const open = async (
    text: string,
    source: string,
    baseDir: string | undefined,
    expires: boolean,
  ): Promise<ClusterPort> => {
    const kubeconfig = readKubeconfig(text, source, baseDir);
    if (kubeconfig.plugin) {
      if (!opts.resolvePlugin) {
        throw new AcrFleetError(
          `${source}: its user is an ${kubeconfig.plugin} credential plugin, which runs a command; the deployed function takes a token or client-certificate kubeconfig (acr-fleet register stores one)`,
        );
      }
      return connectCluster(await opts.resolvePlugin(text, source, baseDir), opts.fleet.kubernetes);
    }
    return connectCluster(
      endpointOfContext(kubeconfig),
      opts.fleet.kubernetes,
      expires ? credentialExpiry(kubeconfig) : undefined,
    );
  };
  const connect = async (cluster: Cluster): Promise<ClusterPort> => {
    const ref = cluster.kubeconfig;
    if (ref.kind === 'file') {
      if (!opts.allowFileKubeconfig) {
        throw new AcrFleetError(
          `kubeconfig ${ref.display}: kubeconfig files are for local runs; the deployed function reads kubeconfigs from KMS ({ kmsSecret: NAME })`,
        );
      }
      return open(await readText(ref.path, ref.display), `kubeconfig ${ref.display}`, path.dirname(ref.path), true);
    }
    const source =
      ref.kind === 'kms' ? `kubeconfig kmsSecret ${ref.secretName}` : `kubeconfig ackClusterId ${ref.clusterId}`;
    const fetched =
      ref.kind === 'kms'
        ? kms.secretValue(ref.regionId, ref.secretName)
        : cs.temporaryKubeconfig(ref.regionId, ref.clusterId, ref.privateIpAddress);
    const text = await fetched.catch((err: unknown) => {
      throw new AcrFleetError(`${source}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    // An ACK kubeconfig is issued fresh for minutes each run: its expiry is no one's to act on.
    return open(text, source, undefined, ref.kind === 'kms');
  };
  return { broker, connect, log: opts.log };
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
