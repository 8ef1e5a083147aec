/** The `{header, payload, signature, warnings}` document printed by `latchkey decode`, key order preserved. */
import type { DecodeResult } from './decode.js';
import { fromPlain, stringifyNode, type JsonNode } from './json.js';
import type { Warning } from './warnings.js';

/** Builds the report; for a JWE, `payload` and `signature` are null (they are encrypted). */
export function buildReport(decoded: DecodeResult & { ok: true }, warnings: readonly Warning[]): JsonNode {
  const jws = decoded.kind === 'JWS' ? decoded : undefined;
  return {
    type: 'object',
    members: [
      { key: 'header', value: decoded.header },
      { key: 'payload', value: jws ? jws.payload : { type: 'null' } },
      { key: 'signature', value: jws ? { type: 'string', value: jws.segments.signature } : { type: 'null' } },
      { key: 'warnings', value: fromPlain(warnings.map((w) => ({ code: w.code, severity: w.severity, message: w.message, path: w.path }))) },
    ],
  };
}

/** Serialises a report (or any node): compact by default, indented with `pretty`. */
export function renderReport(report: JsonNode, pretty = false): string {
  return stringifyNode(report, pretty ? 2 : 0);
}
