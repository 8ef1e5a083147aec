/**
 * Parses a compact JWS (3 parts) or recognises a compact JWE (5 parts). Never throws: every
 * failure is a {@link DecodeFailure} with a stable code.
 */
import { base64urlDecode } from './base64url.js';
import { parseJson, toPlain, type DuplicateKey, type JsonNode } from './json.js';

export type DecodeErrorCode =
  | 'EMPTY'
  | 'TOO_LARGE'
  | 'BAD_SEGMENT_COUNT'
  | 'BAD_BASE64URL'
  | 'NOT_UTF8'
  | 'HEADER_NOT_JSON'
  | 'HEADER_NOT_OBJECT'
  | 'PAYLOAD_NOT_JSON'
  | 'PAYLOAD_NOT_OBJECT';

export interface DecodeFailure {
  ok: false;
  code: DecodeErrorCode;
  message: string;
  /** Which part failed, when one did. */
  part?: 'header' | 'payload' | 'signature' | 'encrypted_key' | 'iv' | 'ciphertext' | 'tag';
}

interface DecodedBase {
  ok: true;
  /** The token after trimming, removing a `Bearer ` prefix and inner whitespace. */
  token: string;
  header: JsonNode & { type: 'object' };
  /** Plain view of the header (last duplicate wins). */
  headerJson: Record<string, unknown>;
  duplicates: { header: DuplicateKey[]; payload: DuplicateKey[] };
}

export interface DecodedJws extends DecodedBase {
  kind: 'JWS';
  segments: { header: string; payload: string; signature: string };
  payload: JsonNode & { type: 'object' };
  payloadJson: Record<string, unknown>;
  signature: Uint8Array;
  /** ASCII of `header.payload`, the bytes the signature covers. */
  signingInput: string;
}

export interface DecodedJwe extends DecodedBase {
  kind: 'JWE';
  segments: { header: string; encryptedKey: string; iv: string; ciphertext: string; tag: string };
}

export type DecodeResult = DecodedJws | DecodedJwe | DecodeFailure;

/** Inputs longer than this are refused (a real JWT is a few KiB). */
const MAX_TOKEN_LENGTH = 256 * 1024;

const JWE_PARTS = ['encrypted_key', 'iv', 'ciphertext', 'tag'] as const;

function fail(code: DecodeErrorCode, message: string, part?: DecodeFailure['part']): DecodeFailure {
  return part ? { ok: false, code, message, part } : { ok: false, code, message };
}

/** Trims, drops an `Authorization:`/`Bearer` prefix, surrounding quotes and inner whitespace. */
export function normalizeToken(input: string): string {
  let t = input.trim();
  t = t.replace(/^authorization\s*:\s*/i, '').replace(/^bearer\s+/i, '');
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) t = t.slice(1, -1);
  return t.replace(/\s+/g, '');
}

const utf8 = (): TextDecoder => new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeJsonPart(
  segment: string,
  part: 'header' | 'payload',
): { ok: true; node: JsonNode & { type: 'object' }; duplicates: DuplicateKey[] } | DecodeFailure {
  const bytes = base64urlDecode(segment);
  if (!bytes) return fail('BAD_BASE64URL', `The ${part} is not valid base64url.`, part);
  let text: string;
  try {
    text = utf8().decode(bytes);
  } catch {
    return fail('NOT_UTF8', `The ${part} is not valid UTF-8.`, part);
  }
  const parsed = parseJson(text);
  const notJson = part === 'header' ? 'HEADER_NOT_JSON' : 'PAYLOAD_NOT_JSON';
  const notObject = part === 'header' ? 'HEADER_NOT_OBJECT' : 'PAYLOAD_NOT_OBJECT';
  if (!parsed.ok) return fail(notJson, `The ${part} is not JSON (${parsed.reason} at offset ${parsed.position}).`, part);
  if (parsed.value.type !== 'object') return fail(notObject, `The ${part} is JSON but not an object.`, part);
  return { ok: true, node: parsed.value, duplicates: parsed.duplicates };
}

/** Decodes a token without verifying anything. */
export function decodeToken(input: string): DecodeResult {
  if (typeof input !== 'string') return fail('EMPTY', 'No token was given.');
  if (input.length > MAX_TOKEN_LENGTH * 2) return fail('TOO_LARGE', `The input is longer than ${MAX_TOKEN_LENGTH} characters.`);
  const token = normalizeToken(input);
  if (token.length === 0) return fail('EMPTY', 'No token was given.');
  if (token.length > MAX_TOKEN_LENGTH) return fail('TOO_LARGE', `The token is longer than ${MAX_TOKEN_LENGTH} characters.`);
  const parts = token.split('.');
  if (parts.length !== 3 && parts.length !== 5) {
    return fail('BAD_SEGMENT_COUNT', `A compact JWT has 3 parts (JWS) or 5 parts (JWE) separated by dots; this has ${parts.length}.`);
  }
  const header = decodeJsonPart(parts[0]!, 'header');
  if (!header.ok) return header;
  const headerJson = toPlain(header.node) as Record<string, unknown>;

  if (parts.length === 5) {
    for (let k = 1; k < 5; k++) {
      const seg = parts[k]!;
      if (seg.length > 0 && !base64urlDecode(seg)) {
        return fail('BAD_BASE64URL', `The JWE ${JWE_PARTS[k - 1]} part is not valid base64url.`, JWE_PARTS[k - 1]);
      }
    }
    return {
      ok: true,
      kind: 'JWE',
      token,
      segments: { header: parts[0]!, encryptedKey: parts[1]!, iv: parts[2]!, ciphertext: parts[3]!, tag: parts[4]! },
      header: header.node,
      headerJson,
      duplicates: { header: header.duplicates, payload: [] },
    };
  }

  const payload = decodeJsonPart(parts[1]!, 'payload');
  if (!payload.ok) return payload;
  const signature = base64urlDecode(parts[2]!);
  if (!signature) return fail('BAD_BASE64URL', 'The signature is not valid base64url.', 'signature');
  return {
    ok: true,
    kind: 'JWS',
    token,
    segments: { header: parts[0]!, payload: parts[1]!, signature: parts[2]! },
    header: header.node,
    headerJson,
    payload: payload.node,
    payloadJson: toPlain(payload.node) as Record<string, unknown>,
    signature,
    signingInput: `${parts[0]}.${parts[1]}`,
    duplicates: { header: header.duplicates, payload: payload.duplicates },
  };
}
