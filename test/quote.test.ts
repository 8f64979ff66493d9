/** Remote text is quoted, not trusted (issue 16): what quoteRemote leaves of hostile server text. */
import test from 'ava';
import { quoteRemote } from '../src/log/quote.js';
import { HOSTILE_PREFIX, HOSTILE_SUFFIX } from './emulators/kube/hostile.js';

const cases: [string, string, string][] = [
  ['plain text stays as it is', 'secrets "x" is forbidden', 'secrets "x" is forbidden'],
  ['the emulator hostile wrapping is removed whole', `${HOSTILE_PREFIX}denied${HOSTILE_SUFFIX}`, 'denied'],
  ['an OSC title ended by ST is removed', 'a\u001b]0;owned\u001b\\b', 'ab'],
  ['C1 CSI and DEL are removed', 'a\u009b31mb\u007fc', 'abc'],
  ['newlines and tabs go (an error is one line)', 'one\ntwo\tthree\r', 'onetwothree'],
  ['bidi overrides go', 'abc\u202edef', 'abcdef'],
];
for (const [name, input, expected] of cases) test(`quoteRemote: ${name}`, (t) => t.is(quoteRemote(input), expected));

test('quoteRemote cuts long text to 300 characters, saying so', (t) => {
  const q = quoteRemote('x'.repeat(10_000));
  t.is(q.length, 300);
  t.true(q.endsWith('…'));
});
