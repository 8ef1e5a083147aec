/**
 * Latchkey decoder core: decode, lint and verify JWTs locally. Isomorphic (Web APIs only), so
 * the `/decoder` page and `latchkey decode|verify` share every rule and warning code.
 */
export { decodeToken, normalizeToken } from './decode.js';
export type { DecodeResult, DecodedJws } from './decode.js';
export { parseJson, stringifyNode, toPlain } from './json.js';
export { lintToken } from './lint.js';
export type { LintOptions } from './lint.js';
export { WARNINGS, WARNING_CODES, warning } from './warnings.js';
export type { Warning, WarningCode } from './warnings.js';
export { describeTime, humanDuration } from './times.js';
export type { TimeInfo } from './times.js';
export { explainClaim } from './claims.js';
export { verifyToken } from './verify.js';
export { detectKeyInput } from './keys.js';
export type { KeyInput, SecretEncoding } from './keys.js';
export { isCommonSecret, guessCommonSecret, commonSecrets, COMMON_SECRETS_COUNT } from './secrets.js';
export { JWS_ALGORITHMS, isJwsAlgorithm } from './algorithms.js';
export type { JwsAlgorithm } from './algorithms.js';
export { buildReport, renderReport } from './report.js';
export { base64urlDecode, base64urlEncode } from './base64url.js';
