/**
 * Public JSON documents that verifiers fetch and cache — the JWKS and the discovery metadata
 * (docs/http-api.md#jwks, #discovery): readable from every origin (`Access-Control-Allow-Origin: *`,
 * so a verifier running in a browser on another site can fetch them; they hold nothing secret
 * and no credential is involved), with a strong `ETag` over the exact bytes served and
 * `304 Not Modified` when a conditional request (`If-None-Match`) names it.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { jsonAnswer, type HttpAnswer } from './exchange.js';

/** A strong entity tag of `body`: 128 bits of its SHA-256. */
function entityTag(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** RFC 9110 §13.1.2: `*`, or a list of entity tags compared weakly (`W/` ignored). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

/** A 200 with `value`, or a 304 without a body when the request already holds these bytes. */
export function publicDocumentAnswer(value: unknown, requestHeaders: IncomingHttpHeaders, maxAgeSeconds: number): HttpAnswer {
  const answer = jsonAnswer(200, value);
  const etag = entityTag(answer.body!);
  const headers = { 'cache-control': `public, max-age=${maxAgeSeconds}`, etag, 'access-control-allow-origin': '*' };
  if (matches(requestHeaders['if-none-match'], etag)) return { status: 304, headers };
  return { ...answer, headers: { ...answer.headers, ...headers } };
}
