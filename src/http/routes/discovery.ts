/**
 * `GET /.well-known/openid-configuration` and `GET /.well-known/oauth-authorization-server`:
 * discovery metadata (OpenID Connect Discovery 1.0, RFC 8414) so that verifiers configured with
 * the issuer alone find the JWKS — openid-client's `discovery()`, get-jwks' `providerDiscovery`,
 * `requireAuth({ issuer })`. Latchkey is neither an OAuth authorization server nor an OpenID
 * provider: the document names the issuer, the JWKS and the signing algorithms, and says that
 * no OAuth response or grant type is offered; it names no endpoint Latchkey does not have
 * (docs/http-api.md#discovery). One handler for the standalone server and the
 * `discoveryHandler` of `latchkey/express` and `latchkey/fastify`, like the JWKS.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Latchkey } from '../../latchkey.js';
import { JWKS_MAX_AGE_SECONDS } from '../../keys/keyring.js';
import type { HttpAnswer } from '../exchange.js';
import { publicDocumentAnswer } from '../public-document.js';
import { JWKS_PATH } from './jwks.js';

export const DISCOVERY_PATHS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'] as const;

export interface DiscoveryOptions {
  /**
   * Where the JWKS is served, when not at `/.well-known/jwks.json` under the issuer (a host app
   * that mounts `jwksHandler` elsewhere). Default `${issuer}/.well-known/jwks.json`.
   */
  jwksUri?: string;
}

/** The metadata document: every value follows the configuration and the published keys. */
function discoveryMetadata(latchkey: Latchkey, options: DiscoveryOptions = {}): Record<string, unknown> {
  const { issuer, signingAlg } = latchkey.config;
  const algorithms = [...new Set([signingAlg, ...latchkey.keys.jwks().keys.map((key) => key.alg)])];
  return {
    issuer,
    jwks_uri: options.jwksUri ?? `${issuer.replace(/\/+$/, '')}${JWKS_PATH}`,
    // Required members, answered truthfully: no authorization endpoint, so no response type,
    // and no OAuth grant (leaving grant_types_supported out would mean authorization_code and implicit).
    response_types_supported: [],
    grant_types_supported: [],
    // `sub` is the user id, the same for every audience.
    subject_types_supported: ['public'],
    // No ID tokens are issued: these are the algorithms the access tokens are signed with,
    // which is what generic JWT verifiers read this member for.
    id_token_signing_alg_values_supported: algorithms,
  };
}

export function discoveryAnswer(latchkey: Latchkey, headers: IncomingHttpHeaders, options: DiscoveryOptions = {}): HttpAnswer {
  // The algorithms follow the published keys: cached as long as the JWKS is.
  return publicDocumentAnswer(discoveryMetadata(latchkey, options), headers, JWKS_MAX_AGE_SECONDS);
}
