/**
 * A small JSON parser that keeps what `JSON.parse` throws away: the order of object members
 * (including integer-like keys, which JS objects reorder), duplicate member names, and the
 * source text of numbers. Never throws: failures are a result with a position.
 */

export type JsonNode =
  | { type: 'null' }
  | { type: 'boolean'; value: boolean }
  | { type: 'number'; value: number; raw: string }
  | { type: 'string'; value: string }
  | { type: 'array'; items: JsonNode[] }
  | { type: 'object'; members: JsonMember[] };

export interface JsonMember {
  key: string;
  value: JsonNode;
}

/** A member name that occurs more than once in one object; `path` is a JSON pointer of the object. */
export interface DuplicateKey {
  path: string;
  key: string;
}

export type JsonParseResult = { ok: true; value: JsonNode; duplicates: DuplicateKey[] } | { ok: false; position: number; reason: string };

const MAX_DEPTH = 200;

class Fail {
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {}
}

function pointerEscape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Parses JSON text (RFC 8259). Never throws. */
export function parseJson(text: string): JsonParseResult {
  let i = 0;
  const duplicates: DuplicateKey[] = [];
  const ws = (): void => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const fail = (reason: string): never => {
    throw new Fail(i, reason);
  };

  const parseString = (): string => {
    // Precondition: text[i] === '"'
    i++;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const hex = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            i -= 2;
            fail('bad escape');
        }
        start = i;
        continue;
      }
      i++;
    }
  };

  const parseValue = (path: string, depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const members: JsonMember[] = [];
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return { type: 'object', members };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a member name');
        const key = parseString();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        const value = parseValue(`${path}/${pointerEscape(key)}`, depth + 1);
        if (seen.has(key)) duplicates.push({ path: path || '/', key });
        seen.add(key);
        members.push({ key, value });
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return { type: 'object', members };
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { type: 'array', items };
      }
      for (;;) {
        items.push(parseValue(`${path}/${items.length}`, depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return { type: 'array', items };
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return { type: 'string', value: parseString() };
    if (text.startsWith('true', i)) {
      i += 4;
      return { type: 'boolean', value: true };
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return { type: 'boolean', value: false };
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return { type: 'null' };
    }
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m) {
      i += m[0].length;
      return { type: 'number', value: Number(m[0]), raw: m[0] };
    }
    return fail(i >= text.length ? 'unexpected end of input' : 'unexpected character');
  };

  try {
    const value = parseValue('', 0);
    ws();
    if (i !== text.length) fail('unexpected text after the value');
    return { ok: true, value, duplicates };
  } catch (error) {
    if (error instanceof Fail) return { ok: false, position: error.position, reason: error.reason };
    // RangeError from a pathological input: still a result, never a crash.
    return { ok: false, position: i, reason: 'input too complex' };
  }
}

/** Plain JS value of a node; for duplicate names the last one wins, as with `JSON.parse`. */
export function toPlain(node: JsonNode): unknown {
  switch (node.type) {
    case 'null':
      return null;
    case 'boolean':
    case 'number':
    case 'string':
      return node.value;
    case 'array':
      return node.items.map(toPlain);
    case 'object': {
      const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const m of node.members) out[m.key] = toPlain(m.value);
      return out;
    }
  }
}

/** Builds a node from a plain value (objects keep their enumeration order). */
export function fromPlain(value: unknown): JsonNode {
  if (value === null || value === undefined) return { type: 'null' };
  if (typeof value === 'boolean') return { type: 'boolean', value };
  if (typeof value === 'number') return Number.isFinite(value) ? { type: 'number', value, raw: String(value) } : { type: 'null' };
  if (typeof value === 'string') return { type: 'string', value };
  if (Array.isArray(value)) return { type: 'array', items: value.map(fromPlain) };
  if (typeof value === 'object') {
    return {
      type: 'object',
      members: Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([key, v]) => ({ key, value: fromPlain(v) })),
    };
  }
  return { type: 'string', value: String(value) };
}

/**
 * Serialises a node preserving member order, duplicates and number text.
 * `indent` 0 gives compact output.
 */
export function stringifyNode(node: JsonNode, indent = 2, level = 0): string {
  const pad = indent > 0 ? `\n${' '.repeat(indent * (level + 1))}` : '';
  const end = indent > 0 ? `\n${' '.repeat(indent * level)}` : '';
  const sep = indent > 0 ? ': ' : ':';
  switch (node.type) {
    case 'null':
      return 'null';
    case 'boolean':
      return String(node.value);
    case 'number':
      return node.raw;
    case 'string':
      return JSON.stringify(node.value);
    case 'array':
      if (node.items.length === 0) return '[]';
      return `[${node.items.map((v) => pad + stringifyNode(v, indent, level + 1)).join(',')}${end}]`;
    case 'object':
      if (node.members.length === 0) return '{}';
      return `{${node.members.map((m) => pad + JSON.stringify(m.key) + sep + stringifyNode(m.value, indent, level + 1)).join(',')}${end}}`;
  }
}
