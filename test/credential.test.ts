/**
 * Kubeconfig credential expiry: a ServiceAccount token's `exp`, a client certificate's `notAfter`, the
 * earlier of both; nothing (and no exception) for credentials that do not say.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { credentialExpiry } from '../src/kube/credential.js';

/** The emulators' certificate: notAfter Oct 30 09:40:11 2126 GMT (openssl x509 -enddate). */
const CERT_PEM = readFileSync(new URL('./emulators/tls/cert.pem', import.meta.url));
const CERT_NOT_AFTER = Date.parse('2126-10-30T09:40:11Z');
const CERT_DATA = CERT_PEM.toString('base64');

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** A JWT-shaped token with these claims (signature not checked by anyone here). */
const jwt = (claims: unknown) => `${b64url({ alg: 'RS256', kid: 'k' })}.${b64url(claims)}.c2lnbmF0dXJl`;

function kubeconfig(user: Record<string, string>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return kc;
}

const EXP = 1_900_000_000;

const cases: [string, Record<string, string>, number | undefined][] = [
  ['a ServiceAccount token tells its exp', { token: jwt({ sub: 'system:serviceaccount:kube-system:acr-fleet', exp: EXP }) }, EXP * 1000],
  ['a client certificate tells its notAfter', { 'client-certificate-data': CERT_DATA, 'client-key-data': 'a2V5' }, CERT_NOT_AFTER],
  ['a token and a certificate: the earlier wins', { token: jwt({ exp: EXP }), 'client-certificate-data': CERT_DATA, 'client-key-data': 'a2V5' }, EXP * 1000],
  ['a certificate expiring before the token wins too', { token: jwt({ exp: 9_000_000_000 }), 'client-certificate-data': CERT_DATA, 'client-key-data': 'a2V5' }, CERT_NOT_AFTER],
  ['an opaque static token says nothing', { token: 'sandbox-token-abcdef' }, undefined],
  ['a JWT without exp says nothing', { token: jwt({ sub: 'x' }) }, undefined],
  ['an exp that is not a number says nothing', { token: jwt({ exp: '1900000000' }) }, undefined],
  ['a negative exp says nothing', { token: jwt({ exp: -5 }) }, undefined],
  ['claims that are not JSON say nothing', { token: `${b64url('h')}.${b64url('{not json')}.sig` }, undefined],
  ['claims that are JSON null say nothing', { token: `${b64url('h')}.${b64url('null')}.sig` }, undefined],
  ['a token of two parts says nothing', { token: 'a.b' }, undefined],
  ['certificate data that is not a certificate says nothing', { 'client-certificate-data': b64url('-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----'), 'client-key-data': 'a2V5' }, undefined],
  ['a missing certificate file says nothing', { 'client-certificate': '/nonexistent/acr-fleet/cert.pem', 'client-key': '/nonexistent/key.pem' }, undefined],
  ['a user without credentials says nothing', {}, undefined],
];

for (const [name, user, expected] of cases) {
  test(`credential expiry: ${name}`, (t) => {
    t.is(credentialExpiry(kubeconfig(user)), expected);
  });
}

test('credential expiry reads a client certificate file', (t) => {
  const file = new URL('./emulators/tls/cert.pem', import.meta.url).pathname;
  t.is(credentialExpiry(kubeconfig({ 'client-certificate': file, 'client-key': file })), CERT_NOT_AFTER);
});

test('credential expiry of a kubeconfig without a current user is unknown', (t) => {
  t.is(credentialExpiry(new KubeConfig()), undefined);
});
