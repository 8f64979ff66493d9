/**
 * Issue 17: `npm run build` ships nothing the deployed function would refuse: the same validation as
 * `acr-fleet validate`, the function's own refusals, and ACR_FLEET_SCHEDULE as FC's 6-field cron.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { checkDeploy } from '../scripts/build.js';
import { scheduleProblem } from '../src/config/deploy.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const FLEET = `regionId: cn-hangzhou
registries:
  - name: hz
    regionId: cn-hangzhou
clusters:
  - name: a
    kubeconfig: { file: ./a.yaml }
  - name: b
    kubeconfig: { kmsSecret: acr-fleet/b }
endpoints:
  cr: http://127.0.0.1:8080
`;

test('the build refuses file kubeconfigs and loopback endpoints, every problem at once, one line each', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'acr-fleet-build-'));
  await writeFile(path.join(dir, 'a.yaml'), 'x');
  const file = path.join(dir, 'fleet.yaml');
  await writeFile(file, FLEET);
  const err = await t.throwsAsync(checkDeploy(file, '@every 5m'));
  t.deepEqual(err?.message.split('\n'), [
    `${file}: clusters[0].kubeconfig: cluster a: the deployed function refuses kubeconfig files; store it in KMS (acr-fleet register --cluster a) or use ackClusterId`,
    `${file}: endpoints.cr: 127.0.0.1 is a loopback address: Function Compute cannot reach it`,
  ]);
});

test('ACR_FLEET_SCHEDULE is checked as FC reads it: 6-field cron or @every of at least a minute', (t) => {
  for (const ok of ['@every 5m', '@every 1h30m', '0 */5 * * * *', '0 0 8 * * *'])
    t.is(scheduleProblem(ok), undefined, ok);
  t.is(
    scheduleProblem('*/5 * * * *'),
    '"*/5 * * * *": FC\'s cron has 6 fields (seconds minutes hours day-of-month month day-of-week), such as "0 */5 * * * *"; this has 5',
  );
  t.is(scheduleProblem('@every 5'), '"@every 5": @every takes hours and minutes of at least 1m, such as @every 5m');
});

test('npm run build exits 2 on a 5-field ACR_FLEET_SCHEDULE and names it, before bundling', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'acr-fleet-build-'));
  const err = await t.throwsAsync(
    promisify(execFile)(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      [path.join(ROOT, 'scripts/build.ts'), '--no-config'],
      {
        cwd: dir,
        env: { ...process.env, ACR_FLEET_CONFIG: path.join(dir, 'none.yaml'), ACR_FLEET_SCHEDULE: '*/5 * * * *' },
      },
    ),
  );
  t.is((err as { code?: number }).code, 2);
  t.is(
    (err as { stderr?: string }).stderr,
    'acr-fleet build: ACR_FLEET_SCHEDULE: "*/5 * * * *": FC\'s cron has 6 fields (seconds minutes hours day-of-month month day-of-week), such as "0 */5 * * * *"; this has 5\n',
  );
});
