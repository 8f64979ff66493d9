/**
 * Issue 17: the function validates its payload like a config file. Each refused payload has its exact
 * one-line error; accepted ones, bare or wrapped in FC's timer event, parse to the same request.
 */
import test from 'ava';
import { parsePayload, PayloadError } from '../src/config/payload.js';
import { ConfigError } from '../src/errors.js';

const CLUSTERS = ['hz-dev-1', 'hz-prod-1', 'bj-prod-1'];
const timer = (payload: string) =>
  JSON.stringify({ triggerTime: '2026-12-07T02:00:00Z', triggerName: 'timer', payload });

const ACCEPTED: [string, string | Buffer | undefined, object][] = [
  ['no event at all', undefined, {}],
  ['an empty event', Buffer.from(''), {}],
  ['a bare dry run', '{"dryRun":true}', { dryRun: true }],
  ['a bare dry run as FC passes it (a Buffer)', Buffer.from('{"dryRun":true}'), { dryRun: true }],
  ["s.yaml's timer payload", timer('{}'), {}],
  ['a timer event with no payload', JSON.stringify({ triggerTime: 't', triggerName: 'timer' }), {}],
  ['a timer event wrapping a cluster list', timer('{"clusters":["hz-dev-1"]}'), { clusters: ['hz-dev-1'] }],
  [
    "the dispatcher's shard payload",
    '{"shard":{"index":1,"count":3},"clusters":["bj-prod-1","hz-prod-1"],"dryRun":true}',
    { shard: { index: 1, count: 3 }, clusters: ['bj-prod-1', 'hz-prod-1'], dryRun: true },
  ],
];

for (const [what, event, expected] of ACCEPTED) {
  test(`the payload parser accepts ${what}`, (t) => {
    t.deepEqual(parsePayload(event, CLUSTERS), expected);
  });
}

const REFUSED: [string, string | Buffer, string][] = [
  ['a misspelled key', '{"dryrun":true}', 'payload: dryrun: unknown key; did you mean dryRun?'],
  ['a string for a boolean', '{"dryRun":"true"}', 'payload: dryRun: expected boolean, got string'],
  ['a string for the cluster list', '{"clusters":"hz-dev-1"}', 'payload: clusters: expected array, got string'],
  ['an empty cluster list', '{"clusters":[]}', 'payload: clusters: expected at least 1 item(s)'],
  [
    'an unknown cluster, with the name it resembles',
    '{"clusters":["hz-dev-l","nope"]}',
    'payload: clusters[0]: no cluster named "hz-dev-l" in fleet.yaml; did you mean "hz-dev-1"?; payload: clusters[1]: no cluster named "nope" in fleet.yaml',
  ],
  [
    'a payload that is not JSON',
    '{dryRun:true}',
    'payload: not JSON (expected a JSON object such as {"dryRun":true} or {"clusters":["name"]})',
  ],
  [
    'a timer event whose payload is not JSON',
    timer('awesome-fc'),
    'payload: not JSON (expected a JSON object such as {"dryRun":true} or {"clusters":["name"]})',
  ],
  [
    'a timer event with a misspelled inner key',
    timer('{"dry-run":true}'),
    'payload: dry-run: unknown key; did you mean dryRun?',
  ],
  [
    'JSON that is not an object',
    '["hz-dev-1"]',
    'payload: expected a JSON object such as {"dryRun":true} or {"clusters":["name"]}',
  ],
  ['a shard past its count', '{"shard":{"index":3,"count":3}}', 'payload: shard.index: index must be below count'],
  ['an unknown shard key', '{"shard":{"index":0,"count":1,"of":2}}', 'payload: shard.of: unknown key'],
  [
    'a timer event with an extra key',
    JSON.stringify({ triggerTime: 't', triggerName: 'x', payload: '{}', dryRun: true }),
    'payload: dryRun: unknown key',
  ],
];

for (const [what, event, message] of REFUSED) {
  test(`the payload parser refuses ${what} with one line`, (t) => {
    const err = t.throws(() => parsePayload(event, CLUSTERS), { instanceOf: PayloadError });
    t.is(err?.message, message);
    t.true(err instanceof ConfigError, 'a config error: exit 2 in the CLI, a failed invocation in FC');
    t.false(err?.message.includes('\n'));
  });
}

test('the payload parser refuses an oversized event unread', (t) => {
  const big = `{"clusters":[${'"x",'.repeat(300_000)}"x"]}`;
  t.throws(() => parsePayload(big, CLUSTERS), { message: 'payload: larger than 1048576 bytes' });
});
