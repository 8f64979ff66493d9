/**
 * Turns zod issues into one-line problems with key paths (`clusters[2].kubeconfig: ...`).
 * Union failures are explained by the branch the user evidently meant, when there is exactly one.
 */
import type * as z from 'zod';
import type { ConfigProblem } from '../errors.js';

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

/** Flattens zod issues into problems, in document order of discovery. */
export function problemsFromIssues(issues: readonly Issue[], base: readonly PropertyKey[] = []): ConfigProblem[] {
  return issues.flatMap((issue) => problemsFromIssue(issue, base));
}

function problemsFromIssue(issue: Issue, base: readonly PropertyKey[]): ConfigProblem[] {
  const path = [...base, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: formatPath([...path, key]), message: 'unknown key' }));
    case 'invalid_type':
      return [
        {
          path: formatPath(path),
          message: issue.input === undefined ? 'required' : `expected ${issue.expected}, got ${typeName(issue.input)}`,
        },
      ];
    case 'invalid_union': {
      const meant = issue.errors.filter((branch) => !branch.some(isShapeMismatch));
      if (meant.length === 1 && meant[0]) return problemsFromIssues(meant[0], path);
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
