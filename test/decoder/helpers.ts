import { SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/** A token from raw header/payload JSON text (for duplicates, odd values); signature is arbitrary. */
export function rawToken(header: string, payload: string, signature = 'c2ln'): string {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

export const SECRET = 'a-very-long-and-random-test-secret-0123456789abcdef';
const secretBytes = new TextEncoder().encode(SECRET);

/** An HS256 token signed with {@link SECRET}. */
export async function hs256(payload: JWTPayload, header: Partial<JWTHeaderParameters> = {}, secret: Uint8Array = secretBytes): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', ...header }).sign(secret);
}

export const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
export const nowS = NOW / 1000;
