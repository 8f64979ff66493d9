/**
 * The composition root: real SDK clients and the real Kubernetes client, wired into the runner's
 * ports. Shared by the CLI and the FC handler so both run the very same refresh.
 */
import type { Fleet, Registry } from '../config/resolve.js';
import { CrApi } from '../cloud/cr.js';
import { CsApi } from '../cloud/cs.js';
import { KmsApi } from '../cloud/kms.js';
import type { CredentialClient } from '../cloud/credentials.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { clusterConnector, type PluginResolver } from '../kube/connect.js';
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
  resolvePlugin?: PluginResolver;
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
  const connect = clusterConnector({
    kubernetes: opts.fleet.kubernetes,
    fetchers: {
      kmsSecret: (regionId, secretName) => kms.secretValue(regionId, secretName),
      ackKubeconfig: (regionId, clusterId, privateIpAddress) =>
        cs.temporaryKubeconfig(regionId, clusterId, privateIpAddress),
    },
    allowFileKubeconfig: opts.allowFileKubeconfig,
    resolvePlugin: opts.resolvePlugin,
    onSecret: (v) => opts.redactor.add(v),
  });
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
