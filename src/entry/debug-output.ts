/**
 * The `debug` package prints HTTP headers and bodies to stderr when `DEBUG=httpx:*` (or `*`) is set: the
 * @alicloud SDKs' AccessKey signatures, STS tokens and registry passwords among them. Its one writer is
 * replaced: bodies are withheld (a token in an answer is printed before anyone has read it), every other
 * line goes through the run's redactors and loses its control characters. DEBUG still helps, and cannot
 * print a credential.
 */
import { formatWithOptions } from 'node:util';
import debug from 'debug';
import type { Redactor } from '../log/logger.js';
import { stripControls } from '../log/quote.js';

/** The redactors of the latest runs on this process (a warm FC instance serves several), newest last. */
const redactors: Redactor[] = [];
const KEPT = 16;

/** Routes `debug` output through `redactor` (and those of earlier runs still on this process). */
export function routeDebugOutput(redactor: Redactor): void {
  if (!redactors.includes(redactor)) redactors.push(redactor);
  if (redactors.length > KEPT) redactors.shift();
  // `debug` calls its writer on the namespace's instance (`this`).
  debug.log = function (this: { namespace?: unknown } | undefined, ...args: unknown[]) {
    const namespace = typeof this?.namespace === 'string' ? this.namespace : '';
    // A body is printed as it arrives, before acr-fleet has read (and registered) the token in it.
    if (/:body$/.test(namespace))
      return process.stderr.write(`${namespace} <body withheld: it may carry a credential>\n`);
    let line = stripControls(formatWithOptions({ colors: false }, ...args));
    for (const r of redactors) line = r.redact(line);
    return process.stderr.write(`${line}\n`);
  };
}
