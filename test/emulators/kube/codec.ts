/**
 * Go-compatible decoding helpers, so error texts match what kube-apiserver (written in Go) says:
 *  - base64 like encoding/base64.StdEncoding (strict padding, '\r' and '\n' skipped), reporting
 *    `illegal base64 data at input byte N` at the same N as Go;
 *  - JSON syntax errors worded like encoding/json's scanner (`invalid character 'x' looking for
 *    beginning of value`, `unexpected end of JSON input`, …).
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Thrown for invalid base64; `message` is Go's CorruptInputError text. */
export class Base64Error extends Error {}

/**
 * Validates `src` the way base64.StdEncoding.Decode does (port of decodeQuantum) and returns
 * the decoded bytes. Throws Base64Error with Go's offset on failure.
 */
export function goBase64Decode(src: string): Buffer {
  const corrupt = (at: number): never => {
    throw new Base64Error(`illegal base64 data at input byte ${at}`);
  };
  let si = 0;
  const clean: string[] = [];
  while (si < src.length) {
    let j = 0;
    const quantum: string[] = [];
    while (j < 4) {
      if (si === src.length) {
        if (j === 0) return Buffer.from(clean.join(''), 'base64');
        corrupt(si - j); // StdEncoding has padding, so a short final quantum is an error.
      }
      const c = src[si++] as string;
      if (c === '\n' || c === '\r') continue;
      if (c === '=') {
        // Padding: only valid after 2 or 3 data characters of the quantum.
        if (j === 0 || j === 1) corrupt(si - 1);
        if (j === 2) {
          while (si < src.length && (src[si] === '\n' || src[si] === '\r')) si++;
          if (si === src.length) corrupt(src.length);
          if (src[si] !== '=') corrupt(si - 1);
          si++;
        }
        while (si < src.length && (src[si] === '\n' || src[si] === '\r')) si++;
        if (si < src.length) corrupt(si); // trailing garbage
        clean.push(quantum.join(''), '='.repeat(4 - j));
        return Buffer.from(clean.join(''), 'base64');
      }
      if (!B64.includes(c)) corrupt(si - 1);
      quantum.push(c);
      j++;
    }
    clean.push(quantum.join(''));
  }
  return Buffer.from(clean.join(''), 'base64');
}

/** Go's quoteChar used in scanner errors: `'x'`, `'\n'`, `'\''`, `'"'`. */
function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  return `'${JSON.stringify(c).slice(1, -1)}'`;
}

/**
 * The error json.Unmarshal(data, &map[string]interface{}{}) returns, or undefined if it would
 * succeed. Used by Secret validation for `.dockerconfigjson` / `.dockercfg` (ValidateSecret).
 */
export function goJsonUnmarshalMapError(text: string): string | undefined {
  const syntax = goJsonSyntaxError(text);
  if (syntax) return syntax;
  const v: unknown = JSON.parse(text);
  if (v === null || (typeof v === 'object' && !Array.isArray(v))) return undefined; // null leaves the map nil
  const t = Array.isArray(v) ? 'array' : typeof v === 'boolean' ? 'bool' : typeof v;
  return `json: cannot unmarshal ${t} into Go value of type map[string]interface {}`;
}

/** A small recursive-descent JSON validator producing encoding/json's scanner messages. */
export function goJsonSyntaxError(text: string): string | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i] as string)) i++;
  };
  class Stop extends Error {}
  let msg = '';
  const fail = (context: string): never => {
    msg =
      i >= text.length
        ? 'unexpected end of JSON input'
        : `invalid character ${quoteChar(text[i] as string)} ${context}`;
    throw new Stop();
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) {
      if (text[i] !== word[k]) fail(`in literal ${word} (expecting ${quoteChar(word[k] as string)})`);
    }
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('');
      const c = text[i] as string;
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') fail('in string literal');
      if (c === '\\') {
        i++;
        const e = text[i];
        if (e === 'u') {
          i++;
          for (let k = 0; k < 4; k++, i++) {
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) fail('in \\u hexadecimal character escape');
          }
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail('in string escape code');
      }
      i++;
    }
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (/[1-9]/.test(text[i] ?? '')) while (/[0-9]/.test(text[i] ?? '')) i++;
    else fail('in numeric literal');
    if (text[i] === '.') {
      i++;
      if (!/[0-9]/.test(text[i] ?? '')) fail('after decimal point in numeric literal');
      while (/[0-9]/.test(text[i] ?? '')) i++;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (!/[0-9]/.test(text[i] ?? '')) fail('in exponent of numeric literal');
      while (/[0-9]/.test(text[i] ?? '')) i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('looking for beginning of object key string');
        string();
        ws();
        if (text[i] !== ':') fail('after object key');
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail('after object key:value pair');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail('after array element');
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || /[0-9]/.test(c ?? '')) return number();
    fail('looking for beginning of value');
  };
  try {
    value();
    ws();
    if (i < text.length) fail('after top-level value');
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return msg;
    throw e;
  }
}
