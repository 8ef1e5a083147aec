/** The `{header, payload, signature, times, warnings}` document printed by `latchkey decode`, key order preserved. */
import type { DecodeResult } from './decode.js';
import { fromPlain, stringifyNode, type JsonNode } from './json.js';
import type { TimeInfo } from './times.js';
import type { Warning } from './warnings.js';

/**
 * One time claim for the report: the value as found, and when it is a usable date its ISO 8601
 * UTC form (docs/http-api.md#times), local form and relative phrase; otherwise the problem code.
 */
function timeEntry(t: TimeInfo, payload: JsonNode | undefined): JsonNode {
  // The value exactly as written in the token (number text kept), the last one if duplicated.
  const written = payload?.type === 'object' ? payload.members.findLast((m) => m.key === t.claim)?.value : undefined;
  const members = [{ key: 'value', value: written ?? fromPlain(t.raw) }];
  const details = { iso: t.iso, local: t.local, relative: t.relative, problem: t.problem, isoIfMilliseconds: t.asMillisecondsIso };
  for (const [key, value] of Object.entries(details)) if (value !== undefined) members.push({ key, value: fromPlain(value) });
  return { type: 'object', members };
}

/**
 * Builds the report; for a JWE, `payload` and `signature` are null (they are encrypted) and
 * `times` is empty. `times` has one member per time claim present (exp, nbf, iat, auth_time, updated_at).
 */
export function buildReport(decoded: DecodeResult & { ok: true }, warnings: readonly Warning[], times: readonly TimeInfo[] = []): JsonNode {
  const jws = decoded.kind === 'JWS' ? decoded : undefined;
  return {
    type: 'object',
    members: [
      { key: 'header', value: decoded.header },
      { key: 'payload', value: jws ? jws.payload : { type: 'null' } },
      { key: 'signature', value: jws ? { type: 'string', value: jws.segments.signature } : { type: 'null' } },
      { key: 'times', value: { type: 'object', members: times.map((t) => ({ key: t.claim, value: timeEntry(t, jws?.payload) })) } },
      { key: 'warnings', value: fromPlain(warnings.map((w) => ({ code: w.code, severity: w.severity, message: w.message, path: w.path }))) },
    ],
  };
}

/** Serialises a report (or any node): compact by default, indented with `pretty`. */
export function renderReport(report: JsonNode, pretty = false): string {
  return stringifyNode(report, pretty ? 2 : 0);
}
