/**
 * A software WebAuthn authenticator for tests over HTTP, written from the WebAuthn Level 3
 * spec independently of the server's library: ES256 credentials (node:crypto), "none"
 * attestation, authenticator data with the flags and sign counter the test chooses, client data
 * for any origin. It answers the server's options JSON with what `credential.toJSON()` gives in
 * a browser. (The Chromium test, test/browser/passkeys.test.ts, uses the browser's own.)
 */
import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';

const b64u = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** The CBOR (RFC 8949) this needs: unsigned/negative integers, byte and text strings, maps. */
function cbor(value: unknown): Buffer {
  const head = (major: number, n: number): Buffer => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
    if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (value instanceof Map) {
    const parts = [head(5, value.size)];
    for (const [k, v] of value) parts.push(cbor(k), cbor(v));
    return Buffer.concat(parts);
  }
  throw new Error(`cbor: unsupported ${typeof value}`);
}

export interface AuthenticatorFlags {
  /** User verified (UV); default true. */
  uv?: boolean;
  /** Backup eligible (BE): a synced, multi-device credential; default false. */
  backupEligible?: boolean;
}

export interface Credential {
  id: Buffer;
  privateKey: KeyObject;
  publicKey: KeyObject;
  userHandle: string;
  rpId: string;
  /** The next assertion's sign counter is `counter + 1` unless told otherwise. */
  counter: number;
  flags: Required<AuthenticatorFlags>;
}

function authenticatorData(rpId: string, flags: Required<AuthenticatorFlags>, counter: number, attested?: Buffer): Buffer {
  let bits = 0x01; // UP
  if (flags.uv) bits |= 0x04;
  if (flags.backupEligible) bits |= 0x08;
  if (attested) bits |= 0x40;
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter);
  return Buffer.concat([sha256(rpId), Buffer.from([bits]), count, ...(attested ? [attested] : [])]);
}

function coseKey(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  return cbor(
    new Map<number, unknown>([
      [1, 2], // kty EC2
      [3, -7], // alg ES256
      [-1, 1], // crv P-256
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]),
  );
}

const clientData = (type: string, challenge: string, origin: string) => Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));

/** Creates a credential for registration `options` (the server's JSON) and the `credential.toJSON()` to send back. */
export function register(
  options: { challenge: string; rp: { id?: string }; user: { id: string } },
  origin: string,
  flags: AuthenticatorFlags = {},
  counter = 0,
): { credential: Credential; response: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const id = randomBytes(16);
  const rpId = options.rp.id ?? new URL(origin).hostname;
  const full = { uv: flags.uv ?? true, backupEligible: flags.backupEligible ?? false };
  const length = Buffer.alloc(2);
  length.writeUInt16BE(id.length);
  const attested = Buffer.concat([Buffer.alloc(16), length, id, coseKey(publicKey)]);
  const authData = authenticatorData(rpId, full, counter, attested);
  const attestationObject = cbor(
    new Map<string, unknown>([
      ['fmt', 'none'],
      ['attStmt', new Map()],
      ['authData', authData],
    ]),
  );
  const credential: Credential = { id, privateKey, publicKey, userHandle: options.user.id, rpId, counter, flags: full };
  return {
    credential,
    response: {
      id: b64u(id),
      rawId: b64u(id),
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientData('webauthn.create', options.challenge, origin)),
        attestationObject: b64u(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    },
  };
}

export interface AssertOptions {
  /** The sign counter to report; default the credential's counter + 1 (0: an authenticator that keeps none). */
  counter?: number;
  origin?: string;
  rpId?: string;
  flags?: AuthenticatorFlags;
}

/** Signs an assertion for request `options` (the server's JSON) — what `credential.toJSON()` gives after `navigator.credentials.get`. */
export function assert(credential: Credential, options: { challenge: string }, origin: string, opts: AssertOptions = {}): Record<string, unknown> {
  const counter = opts.counter ?? credential.counter + 1;
  credential.counter = Math.max(credential.counter, counter);
  const flags = { ...credential.flags, ...opts.flags };
  const authData = authenticatorData(opts.rpId ?? credential.rpId, flags as Required<AuthenticatorFlags>, counter);
  const data = clientData('webauthn.get', options.challenge, opts.origin ?? origin);
  const signature = createSign('sha256')
    .update(Buffer.concat([authData, sha256(data)]))
    .sign(credential.privateKey);
  return {
    id: b64u(credential.id),
    rawId: b64u(credential.id),
    type: 'public-key',
    response: {
      clientDataJSON: b64u(data),
      authenticatorData: b64u(authData),
      signature: b64u(signature),
      userHandle: credential.userHandle,
    },
    clientExtensionResults: {},
    authenticatorAttachment: 'platform',
  };
}
