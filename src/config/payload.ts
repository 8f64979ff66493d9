/**
 * The Function Compute timer/invoke payload, validated like a config file (issue 17): unknown keys, wrong
 * types, unknown cluster names and non-JSON are refused with one line, so a quoting slip never turns into a
 * writing refresh. The timer event wraps the payload as `{"triggerTime","triggerName","payload":"<string>"}`;
 * `s invoke -e '{"dryRun":true}'` and the dispatcher's shard invocations send it bare.
 */
import * as z from 'zod';
import { ConfigError, formatProblem, type ConfigProblem } from '../errors.js';
import { problemsFromIssues } from './issues.js';
import { closest } from './rules.js';

/** What one invocation asks for. */
export const payloadSchema = z
  .strictObject({
    dryRun: z.boolean().optional().describe('Read everything, write nothing. Default: false.'),
    clusters: z
      .array(z.string())
      .min(1)
      .optional()
      .describe('Only these clusters (names of fleet.yaml). Default: all (or shards of all, past shardSize).'),
    shard: z
      .strictObject({
        index: z.number().int().min(0),
        count: z.number().int().min(1),
      })
      .refine((s) => s.index < s.count, { error: 'index must be below count', path: ['index'] })
      .optional()
      .describe("The dispatcher's shard: its 0-based index and the shard count."),
  })
  .describe('acr-fleet invocation payload');

export type Payload = z.infer<typeof payloadSchema>;

/** FC's timer event around the trigger's payload string. */
const timerEvent = z.strictObject({
  triggerTime: z.string().optional(),
  triggerName: z.string(),
  payload: z.string().optional(),
});

/** An event larger than this is refused unread: the payload names clusters, nothing bigger. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

const EXAMPLE = 'expected a JSON object such as {"dryRun":true} or {"clusters":["name"]}';

/** One line, `payload: key.path: message; …`: FC records the invocation as failed with it. */
export class PayloadError extends ConfigError {
  constructor(problems: ConfigProblem[]) {
    super('payload', problems);
    this.message = problems.map((p) => formatProblem('payload', p)).join('; ');
  }
}

/**
 * Parses an invocation's event, bare or wrapped in a timer event; empty means `{}`. Throws PayloadError
 * (a ConfigError) naming every problem, with "did you mean" for keys and cluster names.
 */
export function parsePayload(event: string | Buffer | undefined, clusterNames: readonly string[] | undefined): Payload {
  if (event === undefined) return {};
  const size = typeof event === 'string' ? Buffer.byteLength(event) : event.length;
  if (size > MAX_PAYLOAD_BYTES)
    throw new PayloadError([{ path: '', message: `larger than ${MAX_PAYLOAD_BYTES} bytes` }]);
  const text = event.toString();
  if (!text.trim()) return {};
  let doc = parseJson(text);
  if (isTimerEvent(doc)) {
    const outer = timerEvent.safeParse(doc);
    if (!outer.success) throw new PayloadError(problemsFromIssues(outer.error.issues, [], timerEvent));
    const inner = outer.data.payload ?? '';
    if (!inner.trim()) return {};
    doc = parseJson(inner);
  }
  const parsed = payloadSchema.safeParse(doc, { reportInput: true });
  if (!parsed.success) {
    const problems = problemsFromIssues(parsed.error.issues, [], payloadSchema);
    throw new PayloadError(
      problems.map((p) => (p.path ? p : { path: '', message: p.message.startsWith('expected') ? EXAMPLE : p.message })),
    );
  }
  // Undefined names: the structure only (the caller checks names once it knows them, e.g. after discovery).
  if (clusterNames === undefined) return parsed.data;
  const unknown: ConfigProblem[] = (parsed.data.clusters ?? []).flatMap((name, i) => {
    if (clusterNames.includes(name)) return [];
    const meant = closest(name, clusterNames);
    return [
      {
        path: `clusters[${i}]`,
        message: `no cluster named ${JSON.stringify(name.slice(0, 80))} in fleet.yaml${meant ? `; did you mean "${meant}"?` : ''}`,
      },
    ];
  });
  if (unknown.length) throw new PayloadError(unknown);
  return parsed.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new PayloadError([{ path: '', message: `not JSON (${EXAMPLE})` }]);
  }
}

function isTimerEvent(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && ('triggerTime' in doc || 'triggerName' in doc);
}
