/**
 * Latchkey decoder core: decode, lint and verify JWTs locally. Isomorphic (Web APIs only), so
 * the `/decoder` page and `latchkey decode|verify` share every rule and warning code.
 */
export { decodeToken, normalizeToken, MAX_TOKEN_LENGTH } from './decode.js';
export type { DecodeResult, DecodedJws, DecodedJwe, DecodeFailure, DecodeErrorCode } from './decode.js';
export { parseJson, stringifyNode, toPlain, fromPlain, getMember } from './json.js';
export type { JsonNode, JsonMember, DuplicateKey, JsonParseResult } from './json.js';
export { lintToken, DEFAULT_MAX_LIFETIME_SECONDS } from './lint.js';
export type { LintOptions, LintResult } from './lint.js';
export { WARNINGS, WARNING_CODES, warning } from './warnings.js';
export type { Warning, WarningCode, Severity } from './warnings.js';
export { describeTime, describeTimes, humanDuration, TIME_CLAIMS } from './times.js';
export type { TimeInfo, TimeClaim, TimeOptions, TimeProblem } from './times.js';
export { explainClaim, PAYLOAD_CLAIMS, HEADER_PARAMS } from './claims.js';
export type { ClaimInfo } from './claims.js';
export { verifyToken, checkTimes } from './verify.js';
export type { VerifyResult, VerifyCode, VerifyOptions, TimeStatus } from './verify.js';
export { prepareKeys, detectKeyInput } from './keys.js';
export type { KeyInput, PreparedKey, PrepareResult, SecretEncoding, KeyErrorCode } from './keys.js';
export { isCommonSecret, guessCommonSecret, commonSecrets, COMMON_SECRETS_COUNT } from './secrets.js';
export type { GuessResult } from './secrets.js';
export { JWS_ALGORITHMS, isJwsAlgorithm } from './algorithms.js';
export type { JwsAlgorithm, KeyFamily } from './algorithms.js';
export { buildReport, renderReport } from './report.js';
export { base64urlDecode, base64urlEncode } from './base64url.js';
