/**
 * Remote text (a Status message or reason, an object name in an error, a cloud error message) is quoted,
 * not trusted: escape sequences and control characters are removed, so a server cannot rewrite a
 * terminal line, set a window title or write the clipboard (OSC 52), and the text is cut to a length
 * a one-line error can carry.
 */

/** Longest remote text kept in an error or log line. */
export const MAX_REMOTE_TEXT = 300;

// ESC-introduced sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ST`, two-byte escapes) and their C1 forms.
const SEQUENCES =
  // eslint-disable-next-line no-control-regex
  /(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[\x20-\x7e]?/g;
// C0 (tab and newline included: an error is one line), DEL, C1, and the bidi overrides that reorder text.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** Control characters and escape sequences removed; nothing else changed. */
export function stripControls(text: string): string {
  return text.replace(SEQUENCES, '').replace(CONTROLS, '');
}

/** Remote text made safe to print: controls removed, cut to `max` characters (`…` says it was cut). */
export function quoteRemote(text: unknown, max = MAX_REMOTE_TEXT): string {
  const s = stripControls(typeof text === 'string' ? text : String(text));
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
