/**
 * Strict JSON for JOSE headers and claims: UTF-8 must be valid, the top level must be an
 * object, and no object may repeat a member name (RFC 7515 §5.2 / RFC 7519 §4: a parser
 * that keeps only the last duplicate — as `JSON.parse` does — lets two parties read two
 * different tokens from the same bytes).
 * @internal
 */

import { isUtf8 } from 'node:buffer';

/**
 * Parses `bytes` as a strict JSON object; `undefined` for anything else (never throws).
 * Junk is the common case on this path (it is reachable without a valid signature), so the
 * checks avoid exceptions where they can and suppress stack capture where they cannot
 * (`JSON.parse` throwing a `SyntaxError` with a stack costs several microseconds).
 */
export function parseJsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  // A JSON object starts with '{' (0x7b) and ends with '}' (0x7d), surrounding whitespace aside;
  // a leading BOM is refused.
  let first = 0;
  let last = bytes.length - 1;
  while (first <= last && isJsonWhitespace(bytes[first] as number)) first++;
  while (last >= first && isJsonWhitespace(bytes[last] as number)) last--;
  if (first > last || bytes[first] !== 0x7b || bytes[last] !== 0x7d) return undefined;
  if (!isUtf8(bytes)) return undefined;
  const text = bytes.toString('utf8');
  let value: unknown;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  } finally {
    Error.stackTraceLimit = limit;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  // `JSON.parse` keeps one member per name, so the parsed tree has fewer members than the
  // text has member names exactly when some object repeats a name (allocation-free check,
  // ~3x faster than collecting the names of every object in a Set).
  if (countMembers(value) !== countMemberNames(text)) return undefined;
  return value as Record<string, unknown>;
}

/**
 * Member names written in `text`, which must already be valid JSON: every string literal
 * followed by `:`.
 */
function countMemberNames(text: string): number {
  let count = 0;
  let open = text.indexOf('"');
  while (open !== -1) {
    // The closing quote is the next one not escaped by an odd run of backslashes.
    let close = text.indexOf('"', open + 1);
    for (;;) {
      let backslashes = 0;
      while (text.charCodeAt(close - 1 - backslashes) === 0x5c /* \ */) backslashes++;
      if ((backslashes & 1) === 0) break;
      close = text.indexOf('"', close + 1);
    }
    let k = close + 1;
    while (isJsonWhitespace(text.charCodeAt(k))) k++;
    if (text.charCodeAt(k) === 0x3a /* : */) count++;
    open = text.indexOf('"', close + 1);
  }
  return count;
}

/** Own members of every object in a `JSON.parse` result (iterative: depth is unbounded). */
function countMembers(root: object): number {
  let count = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (typeof v[i] === 'object') stack.push(v[i]);
    } else {
      const keys = Object.keys(v);
      count += keys.length;
      for (let i = 0; i < keys.length; i++) {
        const member = (v as Record<string, unknown>)[keys[i] as string];
        if (typeof member === 'object') stack.push(member);
      }
    }
  }
  return count;
}

function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Does any object in `text` — which must already be valid JSON — repeat a member name?
 * Names are compared after unescaping (`"a"` and `"\u0061"` are the same name).
 * One linear pass; a `Set` per object.
 */
export function hasDuplicateKeys(text: string): boolean {
  const stack: (Set<string> | null)[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x22) break;
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
        } else {
          j++;
        }
      }
      let k = j + 1;
      while (k < n && isJsonWhitespace(text.charCodeAt(k))) k++;
      if (text.charCodeAt(k) === 0x3a /* : */) {
        const keys = stack[stack.length - 1];
        if (keys) {
          const name = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
          if (keys.has(name)) return true;
          keys.add(name);
        }
      }
      i = j + 1;
      continue;
    }
    if (c === 0x7b /* { */) stack.push(new Set());
    else if (c === 0x5b /* [ */) stack.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    i++;
  }
  return false;
}
