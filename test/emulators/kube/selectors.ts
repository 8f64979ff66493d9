/**
 * Label and field selectors with the semantics of k8s.io/apimachinery/pkg/labels and
 * pkg/fields:
 *  - labels: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`, comma
 *    joined (AND). `!=` and `notin` also match objects that lack the key (labels.Requirement.Matches).
 *  - fields: `k=v`, `k==v`, `k!=v`, comma joined, with `\` escaping; a missing field reads as "".
 */
import { badRequest } from './status.js';

/** A parsed label selector requirement. */
interface LabelReq {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';
  values: string[];
}

/** A parsed field selector term. */
interface FieldTerm {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** A compiled label selector. */
export type LabelSelector = (labels: Record<string, string>) => boolean;
/** A compiled field selector, plus the fields it mentions (for per-kind label checks). */
export interface FieldSelector {
  terms: FieldTerm[];
  matches(fields: Record<string, string>): boolean;
}

const SPECIAL = new Set([' ', '\t', ',', '=', '!', '(', ')', '<', '>']);

/** Parses a label selector (labels.Parse); throws 400 on syntax errors. */
export function parseLabelSelector(text: string): LabelSelector {
  const reqs: LabelReq[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw badRequest(`unable to parse requirement: ${what}`);
  };
  const skip = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  const ident = (): string => {
    skip();
    const start = i;
    while (i < text.length && !SPECIAL.has(text[i] as string)) i++;
    return text.slice(start, i);
  };
  skip();
  if (i === text.length) return () => true;
  for (;;) {
    skip();
    if (text[i] === '!') {
      i++;
      const key = ident();
      if (!key) fail(`found '${text[i] ?? ''}', expected: identifier`);
      reqs.push({ key, op: '!', values: [] });
    } else {
      const key = ident();
      if (!key) fail(`found '${text[i] ?? ''}', expected: !, identifier, or 'end of string'`);
      skip();
      const rest = text.slice(i);
      let m: RegExpMatchArray | null;
      if (i === text.length || text[i] === ',') reqs.push({ key, op: 'exists', values: [] });
      else if ((m = rest.match(/^(==|=|!=)/))) {
        i += (m[1] as string).length;
        const value = ident();
        reqs.push(m[1] === '!=' ? { key, op: 'notin', values: [value] } : { key, op: 'in', values: [value] });
      } else if ((m = rest.match(/^([<>])/))) {
        i++;
        const value = ident();
        if (!/^-?\d+$/.test(value)) fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
        reqs.push({ key, op: m[1] === '>' ? 'gt' : 'lt', values: [value] });
      } else if ((m = rest.match(/^(in|notin)\s*\(/))) {
        i += (m[0] as string).length;
        const values: string[] = [];
        for (;;) {
          values.push(ident());
          skip();
          if (text[i] === ',') i++;
          else if (text[i] === ')') {
            i++;
            break;
          } else fail(`found '${text[i] ?? ''}', expected: ',' or ')'`);
        }
        reqs.push({ key, op: m[1] as 'in' | 'notin', values });
      } else fail(`found '${text[i] ?? ''}', expected: in, notin, =, ==, !=, gt, lt`);
    }
    skip();
    if (i === text.length) break;
    if (text[i] !== ',') fail(`found '${text[i]}', expected: ',' or 'end of string'`);
    i++;
  }
  return (labels) =>
    reqs.every((r) => {
      const has = Object.hasOwn(labels, r.key);
      const v = labels[r.key] ?? '';
      switch (r.op) {
        case 'in':
          return has && r.values.includes(v);
        case 'notin':
          return !has || !r.values.includes(v);
        case 'exists':
          return has;
        case '!':
          return !has;
        case 'gt':
        case 'lt': {
          if (!has || !/^-?\d+$/.test(v)) return false;
          const n = Number(v);
          const limit = Number(r.values[0]);
          return r.op === 'gt' ? n > limit : n < limit;
        }
      }
    });
}

/** Parses a field selector (fields.ParseSelector); throws 400 on syntax errors. */
export function parseFieldSelector(text: string): FieldSelector {
  const terms: FieldTerm[] = [];
  // Split on unescaped commas, then on the first unescaped operator.
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      cur += c + text[++i];
    } else if (c === ',') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  const unescape = (s: string) => s.replace(/\\(.)/g, '$1');
  for (const part of parts) {
    if (part === '' && parts.length === 1) break;
    const m = part.match(/^((?:\\.|[^\\=!])*)(!=|==|=)(.*)$/);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    terms.push({ field: unescape(m[1] as string), op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3] as string) });
  }
  return {
    terms,
    matches: (fields) => terms.every((t) => ((fields[t.field] ?? '') === t.value) === (t.op === '=')),
  };
}
