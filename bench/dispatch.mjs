// Runs the bundled FC handler (dist/index.mjs, as deployed) once on a timer event, with FC-style context
// from $BENCH_CONTEXT: for a fleet past shardSize this is the dispatching run. Prints its return value.
// Usage: node bench/dispatch.mjs BUNDLE
import { pathToFileURL } from 'node:url';

const [bundle] = process.argv.slice(2);
const { handler } = await import(pathToFileURL(bundle).href);
const event = Buffer.from(
  JSON.stringify({ triggerTime: new Date().toISOString(), triggerName: 'refresh', payload: '{}' }),
);
const result = await handler(event, JSON.parse(process.env.BENCH_CONTEXT ?? '{}'), () => {});
process.stdout.write(JSON.stringify(result));
