/**
 * One-line explanations of registered JWT claims and header parameters: RFC 7519, RFC 9068
 * (JWT access tokens), OpenID Connect Core, RFC 7515/7516 headers and a few related RFCs.
 */

export interface ClaimInfo {
  /** Human name. */
  name: string;
  /** What it means. */
  description: string;
  /** Where it is defined. */
  spec: string;
}

const c = (name: string, description: string, spec: string): ClaimInfo => ({ name, description, spec });

const PAYLOAD_CLAIMS: Readonly<Record<string, ClaimInfo>> = {
  iss: c('Issuer', 'Who issued the token; verifiers must compare it to the expected issuer.', 'RFC 7519 §4.1.1'),
  sub: c('Subject', 'Whom the token is about, usually a user id, unique within the issuer.', 'RFC 7519 §4.1.2'),
  aud: c('Audience', 'Who the token is meant for; a recipient not listed must reject it.', 'RFC 7519 §4.1.3'),
  exp: c('Expiration time', 'After this time (seconds since 1970, UTC) the token must be rejected.', 'RFC 7519 §4.1.4'),
  nbf: c('Not before', 'Before this time the token must be rejected.', 'RFC 7519 §4.1.5'),
  iat: c('Issued at', 'When the token was issued.', 'RFC 7519 §4.1.6'),
  jti: c('JWT ID', 'Unique identifier of this token, used to detect replays or revoke it.', 'RFC 7519 §4.1.7'),
  client_id: c('Client ID', 'The OAuth client the access token was issued to.', 'RFC 9068 §2.2 / RFC 8693 §4.3'),
  scope: c('Scope', 'Space-separated OAuth scopes granted to the token.', 'RFC 9068 §2.2.3 / RFC 8693 §4.2'),
  auth_time: c('Authentication time', 'When the user last actively authenticated.', 'OIDC Core §2 / RFC 9068 §2.2.1'),
  acr: c('Authentication context class', 'How strongly the user was authenticated (e.g. a level of assurance).', 'OIDC Core §2 / RFC 9068 §2.2.1'),
  amr: c('Authentication methods', 'Methods used to authenticate (e.g. pwd, otp, mfa).', 'OIDC Core §2 / RFC 8176'),
  groups: c('Groups', 'Groups the subject belongs to.', 'RFC 9068 §2.2.3.1 / RFC 7643'),
  roles: c('Roles', 'Roles granted to the subject.', 'RFC 9068 §2.2.3.1 / RFC 7643'),
  entitlements: c('Entitlements', 'Entitlements granted to the subject.', 'RFC 9068 §2.2.3.1 / RFC 7643'),
  azp: c('Authorized party', 'The client the ID token was issued to.', 'OIDC Core §2'),
  nonce: c('Nonce', 'Value from the authentication request, binding the ID token to it (replay protection).', 'OIDC Core §2'),
  at_hash: c('Access token hash', 'Left half of the hash of the access token issued with this ID token.', 'OIDC Core §3.1.3.6'),
  c_hash: c('Code hash', 'Left half of the hash of the authorization code.', 'OIDC Core §3.3.2.11'),
  sid: c('Session ID', 'Identifier of the session at the issuer.', 'OIDC Front-Channel Logout §3 / Latchkey'),
  name: c('Full name', "The user's full name.", 'OIDC Core §5.1'),
  given_name: c('Given name', "The user's given (first) name.", 'OIDC Core §5.1'),
  family_name: c('Family name', "The user's family (last) name.", 'OIDC Core §5.1'),
  middle_name: c('Middle name', "The user's middle name.", 'OIDC Core §5.1'),
  nickname: c('Nickname', 'A casual name of the user.', 'OIDC Core §5.1'),
  preferred_username: c('Preferred username', 'The name the user wants to be referred to by; not unique, not stable.', 'OIDC Core §5.1'),
  profile: c('Profile URL', "URL of the user's profile page.", 'OIDC Core §5.1'),
  picture: c('Picture URL', "URL of the user's picture (never fetched by this decoder).", 'OIDC Core §5.1'),
  website: c('Website', "URL of the user's web page.", 'OIDC Core §5.1'),
  email: c('E-mail', "The user's e-mail address (personal data).", 'OIDC Core §5.1'),
  email_verified: c('E-mail verified', 'Whether the issuer verified the e-mail address.', 'OIDC Core §5.1'),
  gender: c('Gender', "The user's gender.", 'OIDC Core §5.1'),
  birthdate: c('Birth date', "The user's birthday, YYYY-MM-DD (personal data).", 'OIDC Core §5.1'),
  zoneinfo: c('Time zone', "The user's time zone (IANA name).", 'OIDC Core §5.1'),
  locale: c('Locale', "The user's locale (BCP 47).", 'OIDC Core §5.1'),
  phone_number: c('Phone number', "The user's phone number (personal data).", 'OIDC Core §5.1'),
  phone_number_verified: c('Phone verified', 'Whether the issuer verified the phone number.', 'OIDC Core §5.1'),
  address: c('Address', "The user's postal address (personal data).", 'OIDC Core §5.1'),
  updated_at: c('Updated at', "When the user's profile was last updated.", 'OIDC Core §5.1'),
  cnf: c('Confirmation', 'Key the presenter must prove possession of (sender-constrained token).', 'RFC 7800 / RFC 9449'),
  act: c('Actor', 'The party acting on behalf of the subject (delegation).', 'RFC 8693 §4.1'),
  may_act: c('May act', 'Who is allowed to act on behalf of the subject.', 'RFC 8693 §4.4'),
  role: c('Role', "The user's role (Latchkey access tokens).", 'Latchkey docs/http-api.md#access-tokens'),
};

const HEADER_PARAMS: Readonly<Record<string, ClaimInfo>> = {
  alg: c(
    'Algorithm',
    'Signature (JWS) or key-management (JWE) algorithm. A verifier must choose it from its own key, not trust it.',
    'RFC 7515 §4.1.1',
  ),
  typ: c('Type', 'Media type of the whole token, e.g. JWT or at+jwt.', 'RFC 7515 §4.1.9 / RFC 9068 §2.1'),
  cty: c('Content type', 'Media type of the payload; "JWT" means a nested token.', 'RFC 7515 §4.1.10'),
  kid: c('Key ID', 'Hint which key signed the token; match it against keys you already trust.', 'RFC 7515 §4.1.4'),
  jku: c('JWK Set URL', 'URL of a key set. Never fetched here: a token cannot choose who vouches for it.', 'RFC 7515 §4.1.2'),
  jwk: c('Embedded JWK', 'A key inside the token itself: self-asserted, never a proof of validity.', 'RFC 7515 §4.1.3'),
  x5u: c('X.509 URL', 'URL of a certificate chain. Never fetched here.', 'RFC 7515 §4.1.5'),
  x5c: c('X.509 chain', 'Certificates inside the token: self-asserted unless chained to a trusted root.', 'RFC 7515 §4.1.6'),
  x5t: c('X.509 SHA-1 thumbprint', 'Thumbprint of the signing certificate.', 'RFC 7515 §4.1.7'),
  'x5t#S256': c('X.509 SHA-256 thumbprint', 'Thumbprint of the signing certificate.', 'RFC 7515 §4.1.8'),
  crit: c('Critical', 'Extensions the recipient must understand, or else reject the token.', 'RFC 7515 §4.1.11'),
  b64: c('Base64url-encode payload', 'false means an unencoded payload (RFC 7797).', 'RFC 7797 §3'),
  enc: c('Encryption', 'Content-encryption algorithm of a JWE.', 'RFC 7516 §4.1.2'),
  zip: c('Compression', 'Compression applied before encryption (JWE).', 'RFC 7516 §4.1.3'),
  epk: c('Ephemeral public key', 'Sender key for ECDH-ES key agreement (JWE).', 'RFC 7518 §4.6.1.1'),
  apu: c('Agreement PartyUInfo', 'ECDH-ES key-derivation input (JWE).', 'RFC 7518 §4.6.1.2'),
  apv: c('Agreement PartyVInfo', 'ECDH-ES key-derivation input (JWE).', 'RFC 7518 §4.6.1.3'),
  iv: c('Initialization vector', 'IV for AES-GCM key wrapping (JWE).', 'RFC 7518 §4.7.1.1'),
  tag: c('Authentication tag', 'Tag for AES-GCM key wrapping (JWE).', 'RFC 7518 §4.7.1.2'),
  p2s: c('PBES2 salt', 'Salt for password-based key wrapping (JWE).', 'RFC 7518 §4.8.1.1'),
  p2c: c('PBES2 count', 'Iteration count for password-based key wrapping (JWE).', 'RFC 7518 §4.8.1.2'),
};

/** Explanation of a payload claim or header parameter, if registered. */
export function explainClaim(name: string, where: 'header' | 'payload' = 'payload'): ClaimInfo | undefined {
  const table = where === 'header' ? HEADER_PARAMS : PAYLOAD_CLAIMS;
  return Object.hasOwn(table, name) ? table[name] : undefined;
}
