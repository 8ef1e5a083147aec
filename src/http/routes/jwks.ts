/**
 * `GET /.well-known/jwks.json`: the public keys, for resource servers. The one handler behind
 * the standalone server's route and the `jwksHandler` of `latchkey/express` and
 * `latchkey/fastify`; it sees the request headers, so conditional and cross-origin answers
 * are decided here for every edge.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Latchkey } from '../../latchkey.js';
import { jsonAnswer, type HttpAnswer } from '../exchange.js';

export const JWKS_PATH = '/.well-known/jwks.json';

export function jwksAnswer(latchkey: Latchkey, _headers: IncomingHttpHeaders): HttpAnswer {
  // Short enough that a rotation shows up quickly; verifiers also refetch on an unknown kid.
  return jsonAnswer(200, latchkey.keys.jwks(), { 'cache-control': 'public, max-age=300' });
}
