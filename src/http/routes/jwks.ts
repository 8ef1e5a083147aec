/**
 * `GET /.well-known/jwks.json`: the public keys, for resource servers. The one handler behind
 * the standalone server's route and the `jwksHandler` of `latchkey/express` and
 * `latchkey/fastify`; it sees the request headers, so conditional and cross-origin answers
 * are decided here for every edge (src/http/public-document.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Latchkey } from '../../latchkey.js';
import { JWKS_MAX_AGE_SECONDS } from '../../keys/keyring.js';
import type { HttpAnswer } from '../exchange.js';
import { publicDocumentAnswer } from '../public-document.js';

export const JWKS_PATH = '/.well-known/jwks.json';

export function jwksAnswer(latchkey: Latchkey, headers: IncomingHttpHeaders): HttpAnswer {
  // Short enough that a rotation shows up quickly; verifiers also refetch on an unknown kid.
  return publicDocumentAnswer(latchkey.keys.jwks(), headers, JWKS_MAX_AGE_SECONDS);
}
