/** Which Alibaba Cloud failures are worth sending again: the policy of the one OpenAPI caller. */
import test from 'ava';
import { isTransient } from '../src/cloud/openapi.js';
import { CloudError } from '../src/errors.js';

const err = (code: string, statusCode: number | undefined) => new CloudError(`X: ${code}`, { code, statusCode });

const CASES: [code: string, status: number | undefined, idempotent: boolean, expected: boolean][] = [
  ['Throttling', 400, true, true],
  ['Throttling.User', 400, true, true],
  ['Throttling.Api', 503, true, true],
  ['Throttling.User', 400, false, true],
  ['Rejected.Throttling', 400, false, true],
  ['TooManyRequests', 429, true, true],
  ['ServiceUnavailable', 503, true, true],
  ['InternalError', 500, true, true],
  ['InternalError', 500, false, false],
  ['ECONNRESET', undefined, true, true],
  ['ECONNRESET', undefined, false, false],
  ['NetworkError', undefined, true, true],
  ['UnexpectedResponse', undefined, true, false],
  ['SignatureDoesNotMatch', 400, true, false],
  ['InvalidAccessKeyId.NotFound', 404, true, false],
  ['InvalidSecurityToken.Expired', 400, true, false],
  ['NoPermission', 403, true, false],
  ['Forbidden.NoPermission', 403, true, false],
  ['Forbidden.ResourceNotFound', 404, true, false],
  ['INSTANCE_NOT_EXIST', 404, true, false],
  ['InvalidParameter', 400, true, false],
  ['EntityNotExist.Role', 404, true, false],
];

for (const [code, status, idempotent, expected] of CASES) {
  test(`${code} (HTTP ${status ?? 'none'})${idempotent ? '' : ' on a write that must not run twice'} is ${expected ? 'retried' : 'final'}`, (t) => {
    t.is(isTransient(err(code, status), idempotent), expected);
  });
}
