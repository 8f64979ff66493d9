/** Issue 17: `--log-level debug` shows each Kubernetes and cloud request, and never a header value or a body. */
import test from 'ava';
import { sandbox } from './support/sandbox.js';
import { cli } from './support/cli.js';
import { logLines } from './support/parse.js';

test('--log-level debug logs each request with method, path, status and duration, and a retry with its reason', async (t) => {
  const s = await sandbox(t);
  const kube = s.cluster('hz-dev-1').kube;
  kube.injectFault({ method: 'GET', path: /^\/api\/v1\/namespaces$/, status: 503, times: 1 });
  const r = await cli(['refresh', '--cluster', 'hz-dev-1', '--json', '--log-level', 'debug'], {
    cwd: s.dir,
    env: s.env,
  });
  t.is(r.code, 0, r.stderr);
  const lines = logLines(r.stderr);
  const requests = lines.filter((l) => l.event === 'request');
  t.is(
    requests.filter((l) => l.api === 'kubernetes').length,
    kube.requests.length,
    'one line per Kubernetes request, the failed try included',
  );
  t.true(
    requests.some(
      (l) => l.api === 'kubernetes' && l.method === 'GET' && l.path === '/api/v1/namespaces' && l.status === 503,
    ),
  );
  t.true(requests.every((l) => typeof l.durationMs === 'number'));
  t.like(
    lines.find((l) => l.event === 'retry' && l.api === 'kubernetes'),
    { method: 'GET', path: '/api/v1/namespaces', status: 503 },
  );
  t.true(requests.some((l) => l.api === 'openapi' && String(l.path).startsWith('cr GetAuthorizationToken')));
  const secrets = [
    s.cluster('hz-dev-1').token,
    ...s.cloud.tokens.map((x) => x.password),
    s.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
  ];
  for (const secret of secrets) t.false(r.stderr.includes(secret ?? '<none>'), 'no credential in a debug line');
  t.false(r.stderr.includes('Bearer'), 'no header value');
});
