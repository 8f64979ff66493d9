/**
 * Generates the published JSON Schema of fleet.yaml from the validator, so the two cannot drift.
 * `npm run schema` writes schema/fleet.schema.json; a test fails when the committed file is stale.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { fleetSchema } from '../src/config/schema.js';

export const SCHEMA_ID = 'https://acr-fleet.dev/schema/fleet.schema.json';

/** The JSON Schema (draft 2020-12) of fleet.yaml as a user writes it. */
export function fleetJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(fleetSchema, { io: 'input' }), $id: SCHEMA_ID, title: 'acr-fleet fleet.yaml' };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = new URL('../schema/fleet.schema.json', import.meta.url);
  await writeFile(out, `${JSON.stringify(fleetJsonSchema(), null, 2)}\n`);
  console.log(`wrote ${fileURLToPath(out)}`);
}
