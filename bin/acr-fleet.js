#!/usr/bin/env node
// Starts the CLI from the JavaScript compiled into lib/ by `npm ci` (the `prepare` script) or `npm run build:cli`.
try {
  await import('../lib/entry/main.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('/lib/entry/main.js')) {
    process.stderr.write(
      'acr-fleet: the CLI is not compiled yet: run `npm ci` or `npm run build:cli` in the acr-fleet folder\n',
    );
    process.exit(2);
  }
  throw err;
}
