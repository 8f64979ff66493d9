/**
 * The three patch formats of kube-apiserver's PATCH handler
 * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go):
 *  - application/json-patch+json (RFC 6902): any failure while *applying* — a failed `test`, a
 *    missing path — is a 422 with reason Invalid, message "the server rejected our request due to
 *    an error in our request" and empty details (NewGenericServerResponse(422, …)); a body that is
 *    not a JSON array of operations is a 400 "error decoding patch: …".
 *  - application/merge-patch+json (RFC 7386): null deletes, objects merge, everything else
 *    (including lists) replaces.
 *  - application/strategic-merge-patch+json: a port of the apply side of
 *    k8s.io/apimachinery/pkg/util/strategicpatch (mergeMap/mergeSlice/normalizeElementOrder),
 *    driven by the patchStrategy/patchMergeKey tags recorded in schema.ts.
 * Anything else is 415 (NewUnsupportedMediaTypeError with the built-in types' accepted list).
 */
import jsonpatch from 'fast-json-patch';
import { goJsonSyntaxError } from './codec.js';
import { type Schema, fieldSchema } from './schema.js';
import { KubeStatusError, badRequest, generic, plainError, unsupportedMediaType } from './status.js';

type J = unknown;
type JMap = Record<string, J>;

/** The media types the real server accepts for PATCH of built-in kinds, in its order (installer.go). */
export const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];

const isMap = (v: J): v is JMap => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a patch body like the handler's strict JSON decode (400 "error decoding patch: …"). */
function parseBody(body: string, prefix: string): J {
  const err = goJsonSyntaxError(body);
  if (err) throw badRequest(`${prefix}${err}`);
  return JSON.parse(body) as J;
}

/**
 * Applies a PATCH body of `contentType` to `current` (the object as served, with kind/apiVersion)
 * and returns the patched document, still to be decoded and validated by the caller.
 */
export function applyPatch(contentType: string, body: string, current: JMap, schema: Schema): J {
  const type = contentType.split(';')[0]?.trim() ?? '';
  switch (type) {
    case 'application/json-patch+json': {
      const ops = parseBody(body, 'error decoding patch: ');
      if (!Array.isArray(ops)) {
        throw badRequest(
          `error decoding patch: json: cannot unmarshal ${typeof ops === 'object' ? 'object' : typeof ops} into Go value of type []handlers.jsonPatchOp`,
        );
      }
      try {
        return jsonpatch.applyPatch(structuredClone(current), ops as jsonpatch.Operation[], true, true).newDocument;
      } catch {
        throw generic(422);
      }
    }
    case 'application/merge-patch+json':
      return mergePatch(structuredClone(current), parseBody(body, 'error decoding patch: '));
    case 'application/strategic-merge-patch+json': {
      const patch = parseBody(body, '');
      if (!isMap(patch)) {
        throw badRequest(
          `json: cannot unmarshal ${Array.isArray(patch) ? 'array' : typeof patch} into Go value of type map[string]interface {}`,
        );
      }
      return strategicMerge(structuredClone(current), patch, schema);
    }
    case 'application/apply-patch+yaml':
      // Deliberately not emulated: a real server would run server-side apply here.
      throw new KubeStatusError(
        415,
        'UnsupportedMediaType',
        'the Kubernetes emulator does not implement server-side apply (application/apply-patch+yaml)',
      );
    default:
      throw unsupportedMediaType(PATCH_TYPES);
  }
}

/** RFC 7386 JSON merge patch (as evanphx/json-patch MergePatch applies it). */
export function mergePatch(target: J, patch: J): J {
  if (!isMap(patch)) return patch;
  const out: JMap = isMap(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch (strategicpatch.StrategicMergeMapPatch with MergeParallelList and
// IgnoreUnmatchedNulls both true, which is what the server uses).

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';
const SET_ORDER = '$setElementOrder/';

// mergepatch errors: the ones interpretStrategicMergePatchError maps to 400 or 422.
const badPrimitiveList = () => badRequest('invalid patch format of primitive list');
const badRetainKeys = () => badRequest('invalid patch format of retainKeys');
const badSetOrder = () => badRequest('invalid patch format of setElementOrder list');
const noListOfLists = () => generic(422, 'Invalid', 'lists of lists are not supported');
const noMergeKey = (m: J, key: string) =>
  plainError(`map: ${JSON.stringify(m)} does not contain declared merge key: ${key}`);

/** Applies a strategic merge patch to `original` (mutated) using `schema` for list strategies. */
export function strategicMerge(original: JMap, patch: JMap, schema: Schema): JMap {
  return mergeMap(original, patch, schema);
}

function kindOf(v: J): string {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
}

/** removeDirectives + discardNullValuesFromPatch for values that are taken over as-is. */
function cleanValue(v: J): J {
  if (Array.isArray(v)) return v.filter((x) => !(isMap(x) && DIRECTIVE in x)).map(cleanValue);
  if (!isMap(v)) return v;
  if (v[DIRECTIVE] === 'delete') return undefined;
  const out: JMap = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || k.startsWith('$')) continue;
    const c = cleanValue(x);
    if (c !== undefined) out[k] = c;
  }
  return out;
}

function mergeMap(original: JMap | undefined, patch: JMap, schema: Schema): JMap {
  if (DIRECTIVE in patch) {
    const d = patch[DIRECTIVE];
    if (d === 'replace') {
      delete patch[DIRECTIVE];
      return patch;
    }
    if (d === 'delete') return {};
    throw plainError(`unknown patch type: ${String(d)} in map: ${JSON.stringify(patch)}`);
  }
  const orig: JMap = original ?? {};
  applyRetainKeys(orig, patch);
  applySetElementOrder(orig, patch, schema);
  for (const [rawKey, patchV] of Object.entries(patch)) {
    let k = rawKey;
    let isDeleteList = false;
    if (rawKey.startsWith(DELETE_PRIMITIVE)) {
      k = rawKey.slice(DELETE_PRIMITIVE.length);
      if (!k) throw badPrimitiveList();
      isDeleteList = true;
    }
    if (patchV === null) {
      delete orig[k];
      continue;
    }
    if (!(k in orig) || kindOf(orig[k]) !== kindOf(patchV)) {
      // Not in the original (or a different JSON type): take the patch value.
      if (!isDeleteList) {
        const c = cleanValue(patchV);
        if (c === undefined) delete orig[k];
        else orig[k] = c;
      }
      continue;
    }
    const fs = fieldSchema(schema, k);
    if (isMap(patchV)) orig[k] = mergeMap(orig[k] as JMap, patchV, fs);
    else if (Array.isArray(patchV)) orig[k] = mergeSliceHandler(orig[k] as J[], patchV, fs, isDeleteList);
    else orig[k] = patchV;
  }
  return orig;
}

/** A list without patchStrategy=merge is atomic: the patch list replaces it. */
function mergeSliceHandler(original: J[], patch: J[], fs: Schema, isDeleteList: boolean): J[] {
  if (fs.t === 'list' && fs.merge !== undefined) {
    return mergeSlice(original, patch, fs.merge === true ? '' : fs.merge, isDeleteList, fs.of);
  }
  return patch;
}

function elementKind(...lists: J[][]): string {
  let kind: string | undefined;
  for (const l of lists) {
    for (const v of l) {
      const k = kindOf(v);
      if (k === 'array') throw noListOfLists();
      if (kind !== undefined && kind !== k) {
        throw plainError(`list element types are not identical: ${JSON.stringify(lists)}`);
      }
      kind = k;
    }
  }
  return kind ?? '';
}

const sameKey = (a: J, b: J, mergeKey: string) =>
  mergeKey ? isMap(a) && isMap(b) && a[mergeKey] === b[mergeKey] : a === b;

function indexIn(list: J[], v: J, mergeKey: string): number {
  return list.findIndex((x) => sameKey(x, v, mergeKey));
}

function mergeSlice(original: J[], patch: J[], mergeKey: string, isDeleteList: boolean, elem: Schema): J[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind(original, patch);
  let merged: J[];
  if (kind !== 'object') {
    if (isDeleteList) return original.filter((v) => !patch.includes(v));
    merged = [...new Set([...original, ...patch])];
  } else {
    if (!mergeKey) throw plainError('cannot merge lists without merge key for type map');
    // mergeSliceWithSpecialElements: `$patch: delete` removes by key, `$patch: replace` replaces.
    const plain: J[] = [];
    let replace = false;
    for (const v of patch as JMap[]) {
      if (!(DIRECTIVE in v)) plain.push(v);
      else if (v[DIRECTIVE] === 'delete') {
        if (!(mergeKey in v)) throw noMergeKey(v, mergeKey);
        original = original.filter((o) => !sameKey(o, v, mergeKey));
      } else if (v[DIRECTIVE] === 'replace') replace = true;
      else if (v[DIRECTIVE] === 'merge') throw plainError('merging lists cannot yet be specified in the patch');
      else throw plainError(`unknown patch type: ${String(v[DIRECTIVE])} in map: ${JSON.stringify(v)}`);
    }
    if (replace) {
      original = plain;
      patch = [];
    } else patch = plain;
    // mergeSliceWithoutSpecialElements: merge items with the same key, append the others.
    merged = [...original];
    for (const v of patch as JMap[]) {
      if (!(mergeKey in v)) throw noMergeKey(v, mergeKey);
      const at = indexIn(merged, v, mergeKey);
      if (at >= 0) merged[at] = mergeMap(merged[at] as JMap, v, elem);
      else merged.push(v);
    }
  }
  const patchItems = merged.filter((v) => indexIn(patch, v, mergeKey) >= 0);
  const serverOnly = merged.filter((v) => indexIn(patch, v, mergeKey) < 0);
  return normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey);
}

/** Sorts by position in `order` (stable; items not found keep their place). */
function sortBy(items: J[], order: J[], mergeKey: string): J[] {
  return [...items].sort((a, b) => {
    const ia = indexIn(order, a, mergeKey);
    const ib = indexIn(order, b, mergeKey);
    return ia >= 0 && ib >= 0 ? ia - ib : 0;
  });
}

/**
 * normalizeElementOrder + mergeSortedSlice: patch items keep the patch's order, server-only items
 * the live order, and they interleave by live position. A patch item that is new (absent from the
 * live list) wins every comparison, so new entries of a merge list come out *first*.
 */
function normalizeElementOrder(
  patchItems: J[],
  serverOnly: J[],
  patchOrder: J[],
  serverOrder: J[],
  mergeKey: string,
): J[] {
  const right = sortBy(patchItems, patchOrder, mergeKey);
  const left = sortBy(serverOnly, serverOrder, mergeKey);
  const out: J[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], mergeKey);
      const ri = indexIn(serverOrder, right[j], mergeKey);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

/** `$retainKeys`: clear the original's keys that are not listed; every patch key must be listed. */
function applyRetainKeys(orig: JMap, patch: JMap): void {
  if (!(RETAIN_KEYS in patch)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw badRetainKeys();
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_PRIMITIVE) || k.startsWith(SET_ORDER)) continue;
    if (!list.includes(k)) throw badRetainKeys();
  }
  for (const k of Object.keys(orig)) if (!list.includes(k)) delete orig[k];
}

/**
 * `$setElementOrder/<field>`: merge the field's list and order it by the directive (which must
 * list the patch's items in the same relative order). Only meaningful for merge lists; for other
 * fields the directive is dropped.
 */
function applySetElementOrder(orig: JMap, patch: JMap, schema: Schema): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    const field = key.slice(SET_ORDER.length);
    if (!field || !Array.isArray(order)) throw badSetOrder();
    const fs = fieldSchema(schema, field);
    if (fs.t !== 'list' || fs.merge === undefined) continue;
    const mergeKey = fs.merge === true ? '' : fs.merge;
    const origList = orig[field];
    const patchList = patch[field];
    if (origList !== undefined && !Array.isArray(origList)) continue;
    if (patchList !== undefined && !Array.isArray(patchList)) throw badSetOrder();
    // validatePatchWithSetOrderList: patch items (deletions aside) appear in the order's order.
    const nonDelete = (patchList ?? []).filter((v) => !(isMap(v) && v[DIRECTIVE] === 'delete'));
    let at = 0;
    for (const v of nonDelete) {
      if (isMap(v) && DIRECTIVE in v) continue;
      while (at < order.length && !sameKey(order[at], v, mergeKey)) at++;
      if (at >= order.length)
        throw plainError(
          `The order in patch list:\n${JSON.stringify(patchList)}\n doesn't match ${SET_ORDER} list:\n${JSON.stringify(order)}\n`,
        );
      at++;
    }
    let merged: J[];
    if (origList && patchList) merged = mergeSlice(origList, patchList, mergeKey, false, fs.of);
    else if (patchList) merged = patchList;
    else if (origList) merged = origList;
    else continue;
    const inOrder = merged.filter((v) => indexIn(order, v, mergeKey) >= 0);
    const rest = merged.filter((v) => indexIn(order, v, mergeKey) < 0);
    orig[field] = normalizeElementOrder(inOrder, rest, order, origList ?? [], mergeKey);
    delete patch[field];
  }
}
