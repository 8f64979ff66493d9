/**
 * Typed `Status` errors, shaped exactly like k8s.io/apimachinery/pkg/api/errors builds them
 * (NewNotFound, NewAlreadyExists, NewConflict, NewForbidden, NewInvalid, NewBadRequest, …)
 * and like k8s.io/apimachinery/pkg/util/validation/field formats field errors.
 */

/** One entry of `details.causes` (the JSON name of `StatusCause.Type` is `reason`). */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** `Status.details`; `kind` holds the *resource* (e.g. "secrets"), as the real server does. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** A group and resource, e.g. `{ group: 'rbac.authorization.k8s.io', resource: 'roles' }`. */
export interface GroupResource {
  group: string;
  resource: string;
}

/** `GroupResource.String()`: "secrets", or "roles.rbac.authorization.k8s.io". */
export function grString(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

/** An error the emulator answers with a `Status` body and the given HTTP code. */
export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    /** `Status.reason`; "" means StatusReasonUnknown and is omitted from the JSON. */
    readonly reason: string,
    message: string,
    /** undefined → no `details` key; `{}` → `"details":{}` (as NewGenericServerResponse does). */
    readonly details?: StatusDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The JSON body, keys in the order Go's metav1.Status serializes them. */
  toStatus(): Record<string, unknown> {
    const body: Record<string, unknown> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure' };
    if (this.message) body.message = this.message;
    if (this.reason) body.reason = this.reason;
    if (this.details) body.details = compactDetails(this.details);
    body.code = this.code;
    return body;
  }
}

function compactDetails(d: StatusDetails): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['name', 'group', 'kind', 'uid', 'causes', 'retryAfterSeconds'] as const) {
    const v = d[k];
    if (v !== undefined && v !== '' && v !== 0) out[k] = v;
  }
  return out;
}

function grDetails(gr: GroupResource, name: string): StatusDetails {
  return { name, group: gr.group, kind: gr.resource };
}

/** errors.NewNotFound */
export function notFound(gr: GroupResource, name: string): KubeStatusError {
  return new KubeStatusError(404, 'NotFound', `${grString(gr)} "${name}" not found`, grDetails(gr, name));
}

/** errors.NewAlreadyExists */
export function alreadyExists(gr: GroupResource, name: string): KubeStatusError {
  return new KubeStatusError(409, 'AlreadyExists', `${grString(gr)} "${name}" already exists`, grDetails(gr, name));
}

/** registry.OptimisticLockErrorMsg, the text of every stale-resourceVersion conflict. */
export const OPTIMISTIC_LOCK_MSG =
  'the object has been modified; please apply your changes to the latest version and try again';

/** errors.NewConflict */
export function conflict(gr: GroupResource, name: string, msg: string): KubeStatusError {
  return new KubeStatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${grString(gr)} "${name}": ${msg}`,
    grDetails(gr, name),
  );
}

/** errors.NewForbidden: the prefix depends on whether the resource and the name are known. */
export function forbidden(gr: GroupResource, name: string, msg: string): KubeStatusError {
  let message: string;
  if (!gr.resource && !gr.group) message = `forbidden: ${msg}`;
  else if (!name) message = `${grString(gr)} is forbidden: ${msg}`;
  else message = `${grString(gr)} "${name}" is forbidden: ${msg}`;
  return new KubeStatusError(403, 'Forbidden', message, grDetails(gr, name));
}

/** errors.NewBadRequest (no details). */
export function badRequest(msg: string): KubeStatusError {
  return new KubeStatusError(400, 'BadRequest', msg);
}

/** errors.NewUnauthorized as the authentication filter sends it. */
export function unauthorized(): KubeStatusError {
  return new KubeStatusError(401, 'Unauthorized', 'Unauthorized');
}

/** negotiation.NewUnsupportedMediaTypeError */
export function unsupportedMediaType(accepted: string[]): KubeStatusError {
  return new KubeStatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

/** errors.NewInternalError */
export function internalError(msg: string): KubeStatusError {
  return new KubeStatusError(500, 'InternalError', `Internal error occurred: ${msg}`, { causes: [{ message: msg }] });
}

/** A plain Go error reaching the handler: ErrorToAPIStatus makes it a 500 with reason Unknown (""). */
export function plainError(msg: string): KubeStatusError {
  return new KubeStatusError(500, '', msg);
}

/** Default reason and message per code, as errors.NewGenericServerResponse picks them. */
const GENERIC: Record<number, [string, string]> = {
  400: ['BadRequest', 'the server rejected our request for an unknown reason'],
  401: ['Unauthorized', 'the server has asked for the client to provide credentials'],
  403: ['Forbidden', 'the server does not allow access to the requested resource'],
  404: ['NotFound', 'the server could not find the requested resource'],
  405: ['MethodNotAllowed', 'the server does not allow this method on the requested resource'],
  409: ['Conflict', 'the server reported a conflict'],
  422: ['Invalid', 'the server rejected our request due to an error in our request'],
  429: ['TooManyRequests', 'the server has received too many requests and has asked us to try again later'],
  500: ['InternalError', 'an error on the server ("") has prevented the request from succeeding'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  504: [
    'Timeout',
    'the server was unable to return a response in the time allotted, but may still be processing the request',
  ],
};

/** errors.NewGenericServerResponse with empty resource: `details` is `{}`. */
export function generic(code: number, reason?: string, message?: string): KubeStatusError {
  const [r, m] = GENERIC[code] ?? [
    '',
    `the server responded with the status code ${code} but did not return more information`,
  ];
  return new KubeStatusError(code, reason ?? r, message ?? m, {});
}

// ---------------------------------------------------------------------------------------------
// Field errors (k8s.io/apimachinery/pkg/util/validation/field)

/** `field.ErrorType` values as they appear in `details.causes[].reason`. */
export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueTooLong'
  | 'FieldValueForbidden';

/** One `field.Error`. */
export interface FieldError {
  type: FieldErrorType;
  field: string;
  value?: unknown;
  detail: string;
}

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueTooLong: 'Too long',
  FieldValueForbidden: 'Forbidden',
};

/** Go's %v / %q rendering of a bad value (JSON is a close stand-in for %#v of composites). */
function goValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** `field.Error.ErrorBody()`: Required/Forbidden/TooLong omit the value. */
export function errorBody(e: FieldError): string {
  let s = TYPE_TEXT[e.type];
  if (e.type === 'FieldValueInvalid' || e.type === 'FieldValueNotSupported' || e.type === 'FieldValueDuplicate') {
    s += `: ${goValue(e.value)}`;
  }
  return e.detail ? `${s}: ${e.detail}` : s;
}

/** Field error constructors mirroring field.Required/Invalid/NotSupported/TooLong/Forbidden. */
export const fe = {
  required: (field: string, detail = ''): FieldError => ({ type: 'FieldValueRequired', field, detail }),
  invalid: (field: string, value: unknown, detail: string): FieldError => ({
    type: 'FieldValueInvalid',
    field,
    value,
    detail,
  }),
  notSupported: (field: string, value: unknown, valid: string[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field,
    value,
    detail: `supported values: ${valid.map((v) => JSON.stringify(v)).join(', ')}`,
  }),
  tooLong: (field: string, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field,
    detail: `must have at most ${max} bytes`,
  }),
  forbidden: (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, detail }),
  duplicate: (field: string, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field, value, detail: '' }),
};

/** errors.NewInvalid: message aggregates the (deduplicated) field errors, causes list each. */
export function invalid(kind: { group: string; kind: string }, name: string, errs: FieldError[]): KubeStatusError {
  const msgs = [...new Set(errs.map((e) => `${e.field}: ${errorBody(e)}`))];
  const gk = kind.group ? `${kind.kind}.${kind.group}` : kind.kind;
  const agg = msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`;
  return new KubeStatusError(422, 'Invalid', `${gk} "${name}" is invalid: ${agg}`, {
    name,
    group: kind.group,
    kind: kind.kind,
    causes: errs.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field })),
  });
}
