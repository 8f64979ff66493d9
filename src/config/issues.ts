/**
 * Turns zod issues into one-line problems with key paths (`clusters[2].kubeconfig: ...`).
 * Union failures are explained by the branch the user evidently meant, when there is exactly one.
 */
import type * as z from 'zod';
import type { ConfigProblem } from '../errors.js';
import { suggestKey } from './rules.js';

type Issue = z.core.$ZodIssue;

/** `['clusters', 2, 'kubeconfig']` → `clusters[2].kubeconfig`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/**
 * Flattens zod issues into problems, in document order of discovery. With the root `schema`, an unknown
 * key gets a "did you mean" among the keys valid at its place.
 */
export function problemsFromIssues(
  issues: readonly Issue[],
  base: readonly PropertyKey[] = [],
  schema?: z.ZodType,
): ConfigProblem[] {
  return issues.flatMap((issue) => problemsFromIssue(issue, base, schema));
}

function problemsFromIssue(issue: Issue, base: readonly PropertyKey[], schema?: z.ZodType): ConfigProblem[] {
  const path = [...base, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = schema ? keysAt(schema, path) : [];
      return issue.keys.map((key) => {
        const meant = suggestKey(key, known);
        return {
          path: formatPath([...path, key]),
          message: meant ? `unknown key; did you mean ${meant}?` : 'unknown key',
        };
      });
    }
    case 'invalid_type':
      return [
        {
          path: formatPath(path),
          message: issue.input === undefined ? 'required' : `expected ${issue.expected}, got ${typeName(issue.input)}`,
        },
      ];
    case 'invalid_union': {
      const meant = issue.errors.filter((branch) => !branch.some(isShapeMismatch));
      if (meant.length === 1 && meant[0]) return problemsFromIssues(meant[0], path, schema);
      return [{ path: formatPath(path), message: issue.message }];
    }
    case 'too_small':
      if (issue.origin === 'array')
        return [{ path: formatPath(path), message: `expected at least ${String(issue.minimum)} item(s)` }];
      if (issue.origin === 'string') return [{ path: formatPath(path), message: 'must not be empty' }];
      return [{ path: formatPath(path), message: `must be at least ${String(issue.minimum)}` }];
    case 'too_big':
      return [
        {
          path: formatPath(path),
          message: issue.origin === 'string' ? issue.message : `must be at most ${String(issue.maximum)}`,
        },
      ];
    default:
      return [{ path: formatPath(path), message: issue.message }];
  }
}

/** A branch failed on shape (an extra or missing key, or another type altogether), not on a value. */
function isShapeMismatch(issue: Issue): boolean {
  if (issue.code === 'unrecognized_keys') return issue.path.length === 0;
  if (issue.code === 'invalid_type')
    return issue.path.length === 0 || (issue.path.length === 1 && issue.input === undefined);
  return false;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The keys an object schema accepts at `path` (every branch of a union), for suggestions. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const def = defOf(schema);
  const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  if (inner) return keysAt(inner, path);
  if (def.type === 'union') return [...new Set((def.options ?? []).flatMap((o) => keysAt(o, path)))];
  const [head, ...rest] = path;
  if (def.type === 'array' && def.element) return typeof head === 'number' ? keysAt(def.element, rest) : [];
  if (def.type !== 'object' || !def.shape) return [];
  if (head === undefined) return Object.keys(def.shape);
  const next = typeof head === 'string' ? def.shape[head] : undefined;
  return next ? keysAt(next, rest) : [];
}
