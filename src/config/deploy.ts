/**
 * What `npm run build` checks besides fleet.yaml's own validation (issue 17): the deployed function's own
 * refusals, so that a config it would refuse never ships, and the timer's schedule as FC parses it. Pure.
 */
import type { ConfigProblem } from '../errors.js';
import type { Fleet } from './resolve.js';

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?|0\.0\.0\.0)$/i;

/** Problems the deployed function would meet at run time, each `key.path: message`. */
export function deployProblems(fleet: Fleet): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  fleet.clusters.forEach((c, i) => {
    if (c.kubeconfig.kind === 'file')
      problems.push({
        path: `clusters[${i}].kubeconfig`,
        message: `cluster ${c.name}: the deployed function refuses kubeconfig files; store it in KMS (acr-fleet register --cluster ${c.name}) or use ackClusterId`,
      });
  });
  for (const [product, config] of Object.entries(fleet.endpoints)) {
    const urls = typeof config === 'string' ? { '': config } : ((config ?? {}) as Record<string, string>);
    for (const [region, url] of Object.entries(urls)) {
      let host: string;
      try {
        host = new URL(url.replaceAll('{region}', 'region')).hostname;
      } catch {
        continue; // the schema has already named a malformed URL
      }
      if (LOOPBACK.test(host))
        problems.push({
          path: `endpoints.${product}${region ? `.${region}` : ''}`,
          message: `${host} is a loopback address: Function Compute cannot reach it`,
        });
    }
  }
  if (fleet.webhook) {
    try {
      const host = new URL(fleet.webhook.url).hostname;
      if (LOOPBACK.test(host))
        problems.push({ path: 'webhook.url', message: `${host} is a loopback address: the clusters cannot reach it` });
    } catch {
      // named by the schema
    }
  }
  return problems;
}

/**
 * FC's timer `cronExpression`: six fields with seconds (every 5 minutes: `0 0/5 * * * *`, UTC) or `@every` with a duration of at
 * least one minute (`@every 5m`, `@every 1h30m`). Undefined when valid, else why not.
 */
export function scheduleProblem(schedule: string): string | undefined {
  const s = schedule.trim();
  if (s.startsWith('@every')) {
    const m = /^@every\s+(?:(\d+)h)?(?:(\d+)m)?$/.exec(s);
    const minutes = m ? Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) : 0;
    return m && minutes >= 1 ? undefined : `"${s}": @every takes hours and minutes of at least 1m, such as @every 5m`;
  }
  const fields = s.split(/\s+/);
  if (fields.length !== 6)
    return `"${s}": FC's cron has 6 fields (seconds minutes hours day-of-month month day-of-week), such as "0 */5 * * * *"; this has ${fields.length}`;
  const bad = fields.find((f) => !/^[0-9A-Za-z*?,/\-LW#]+$/.test(f));
  return bad ? `"${s}": field "${bad}" is not a cron field` : undefined;
}
