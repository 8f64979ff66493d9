/**
 * Issue 17: every bad input is caught before anything runs. Each case goes through the real entry (the CLI
 * as a shell runs it, or the FC handler as FC calls it) and asserts its exact one-line error, its exit code
 * (or a failed invocation), and that nothing was contacted or nothing in a cluster changed.
 */
import test from 'ava';
import { handler } from '../src/entry/fc.js';
import { PayloadError } from '../src/config/payload.js';
import { sandbox, type Sandbox } from './support/sandbox.js';
import { logLines } from './support/parse.js';

/** Requests every emulator has served so far: cloud, and each cluster's API server. */
function served(s: Sandbox): number {
  return s.cloud.requests.length + s.clusters.reduce((n, c) => n + c.kube.requests.length, 0);
}

const timer = (payload: string) =>
  Buffer.from(JSON.stringify({ triggerTime: '2026-12-07T02:00:00Z', triggerName: 'refresh', payload }));

/** `s acr-fleet invoke -e …` sends the payload bare; the timer wraps it. */
const PAYLOADS: [string, Buffer, string][] = [
  ['a misspelled key', Buffer.from('{"dryrun":true}'), 'payload: dryrun: unknown key; did you mean dryRun?'],
  ['a quoted boolean', Buffer.from('{"dryRun":"true"}'), 'payload: dryRun: expected boolean, got string'],
  [
    'one cluster name as a string',
    Buffer.from('{"clusters":"hz-dev-1"}'),
    'payload: clusters: expected array, got string',
  ],
  [
    'a cluster fleet.yaml does not name',
    Buffer.from('{"clusters":["nope"]}'),
    'payload: clusters[0]: no cluster named "nope" in fleet.yaml',
  ],
  [
    'a typo of a cluster name',
    timer('{"clusters":["hz-dev-l"]}'),
    'payload: clusters[0]: no cluster named "hz-dev-l" in fleet.yaml; did you mean "hz-dev-1"?',
  ],
  [
    'a payload that is not JSON',
    Buffer.from("{'dryRun': true}"),
    'payload: not JSON (expected a JSON object such as {"dryRun":true} or {"clusters":["name"]})',
  ],
  [
    'a timer payload that is not JSON',
    timer('acr-fleet'),
    'payload: not JSON (expected a JSON object such as {"dryRun":true} or {"clusters":["name"]})',
  ],
];

for (const [what, event, message] of PAYLOADS) {
  test.serial(`the function refuses ${what}: one line, a failed invocation, nothing contacted`, async (t) => {
    const s = await sandbox(t, { kubeconfigs: 'kms', functionConfig: true });
    const before = served(s);
    const lines: string[] = [];
    await t.throwsAsync(
      handler(event, { requestId: 'bad', credentials: s.cloud.roleSession(s.functionRole) }, (l) => lines.push(l)),
      { instanceOf: PayloadError, message },
    );
    t.deepEqual(
      logLines(lines).map(({ time, ...rest }) => (t.is(typeof time, 'string'), rest)),
      [{ level: 'error', msg: message, requestId: 'bad', event: 'payload-invalid' }],
    );
    t.is(served(s), before, 'no emulator received a request');
    for (const c of s.clusters) t.is(c.kube.list('secrets').length, 0);
  });
}
