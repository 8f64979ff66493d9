/**
 * Metadata-only answers, as k8s.io/apiserver/pkg/endpoints/handlers/response.go transforms them when the
 * Accept header asks `application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1` (or
 * `as=PartialObjectMetadata` for one object): asPartialObjectMetadataList keeps the list's resourceVersion,
 * continue and remainingItemCount and gives every item `kind: PartialObjectMetadata`,
 * `apiVersion: meta.k8s.io/v1` and only its metadata (meta.AsPartialObjectMetadata); `items` is appended
 * to a nil slice, so an empty list serializes as `"items": null`. Asking for the list form on one object
 * (or the object form on a list) is 406 NotAcceptable (errNotAcceptable).
 */
import type { Reply } from './api.js';
import { KubeStatusError } from './status.js';

type Json = Record<string, unknown>;

/** The metadata transform an Accept header asks for, if any. */
export interface MetadataTarget {
  as: 'PartialObjectMetadata' | 'PartialObjectMetadataList';
  version: 'v1' | 'v1beta1';
}

/**
 * The first Accept clause that names a transform the server knows (`as` with g=meta.k8s.io, v=v1|v1beta1)
 * wins, unless a plain clause comes first; clauses naming unknown transforms are skipped, as
 * NegotiateMediaTypeOptions skips what the endpoint cannot serve.
 */
export function wantsMetadata(accept: string | undefined): MetadataTarget | undefined {
  for (const clause of (accept ?? '').split(',')) {
    const [type, ...params] = clause.split(';').map((x) => x.trim());
    if (type !== 'application/json' && type !== '*/*' && type !== 'application/*') continue;
    const p = Object.fromEntries(params.map((x) => x.split('=', 2).map((y) => y.trim()) as [string, string]));
    if (p.as === undefined) return undefined;
    if (
      (p.as === 'PartialObjectMetadata' || p.as === 'PartialObjectMetadataList') &&
      p.g === 'meta.k8s.io' &&
      (p.v === 'v1' || p.v === 'v1beta1')
    )
      return { as: p.as, version: p.v };
  }
  return undefined;
}

const notAcceptable = (msg: string) => new KubeStatusError(406, 'NotAcceptable', msg);

/** Rewrites a get or list answer into its metadata-only form. */
export function metadataOnly(reply: Reply, target: MetadataTarget): Reply {
  const body = reply.body as Json;
  const kind = String(body.kind);
  const isList = kind.endsWith('List') && Array.isArray(body.items);
  const apiVersion = `meta.k8s.io/${target.version}`;
  const goType = `*v1.${kind}`;
  if (target.as === 'PartialObjectMetadata') {
    if (isList)
      throw notAcceptable(`you requested PartialObjectMetadata, but the requested object is a list (${goType})`);
    return { ...reply, body: { kind: 'PartialObjectMetadata', apiVersion, metadata: body.metadata } };
  }
  if (!isList)
    throw notAcceptable(`you requested PartialObjectMetadataList, but the requested object is not a list (${goType})`);
  const items = (body.items as Json[]).map((o) => ({
    kind: 'PartialObjectMetadata',
    apiVersion,
    metadata: o.metadata,
  }));
  return {
    ...reply,
    body: {
      kind: 'PartialObjectMetadataList',
      apiVersion,
      metadata: body.metadata,
      items: items.length ? items : null,
    },
  };
}
