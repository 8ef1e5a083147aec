/**
 * The flow cookie of a provider sign-in (docs/oidc.md#the-flow-cookie): what the callback needs
 * from the start — the provider, `state`, `nonce`, the PKCE verifier, where to return, and for a
 * link the session that asked — sealed with AES-256-GCM under a key derived from the master
 * secret (`deriveKeys().oauthFlowSeal`), so the browser holds it but can neither read nor change
 * it, and a cookie sealed by another deployment does not open. `HttpOnly; SameSite=Lax` (the
 * provider's redirect back is a cross-site top-level navigation, which `Strict` would strip),
 * `Path=<mount>/oauth`, `Max-Age=600`. Single use: the callback clears it, and claims its id in
 * the store (`claimOAuthFlow`) before anything else.
 */
import { randomUUID } from 'node:crypto';
import { parseCookie, stringifySetCookie } from 'cookie';
import { LatchkeyError } from '../errors.js';
import { seal, unseal } from '../keys/sealing.js';

/** Seconds a flow may take from start to callback. */
export const FLOW_TTL_SECONDS = 600;
const ASSOCIATED_DATA = 'oauth-flow';

export interface FlowState {
  /** Random id: what the store remembers once the callback ran. */
  id: string;
  provider: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The checked redirect target (`checkRedirect`). */
  redirect: string;
  /** For `start?link=1`: the session whose user gets the identity. */
  link: { userId: string; sessionId: string } | null;
  /** Epoch ms after which the callback refuses it. */
  expiresAt: number;
}

function flowCookieName(secure: boolean): string {
  return secure ? '__Secure-latchkey-oauth' : 'latchkey-oauth';
}

export interface FlowCookieSettings {
  secure: boolean;
  /** `<mount>/oauth`. */
  path: string;
}

export function newFlowId(): string {
  return randomUUID();
}

/** The `Set-Cookie` value carrying `flow`, sealed under `key`. */
export function flowCookie(key: Buffer, settings: FlowCookieSettings, flow: FlowState): string {
  const value = seal(key, Buffer.from(JSON.stringify(flow), 'utf8'), ASSOCIATED_DATA);
  return stringifySetCookie({
    name: flowCookieName(settings.secure),
    value,
    httpOnly: true,
    secure: settings.secure,
    sameSite: 'lax',
    path: settings.path,
    maxAge: FLOW_TTL_SECONDS,
  });
}

/** The `Set-Cookie` value deleting the flow cookie. */
export function clearedFlowCookie(settings: FlowCookieSettings): string {
  return stringifySetCookie({
    name: flowCookieName(settings.secure),
    value: '',
    httpOnly: true,
    secure: settings.secure,
    sameSite: 'lax',
    path: settings.path,
    maxAge: 0,
  });
}

function isFlowState(value: unknown): value is FlowState {
  const v = value as Partial<FlowState> | null;
  const link = v?.link;
  return (
    typeof v === 'object' &&
    v !== null &&
    ['id', 'provider', 'state', 'nonce', 'codeVerifier', 'redirect'].every((k) => typeof (v as Record<string, unknown>)[k] === 'string') &&
    typeof v.expiresAt === 'number' &&
    (link === null || (typeof link?.userId === 'string' && typeof link.sessionId === 'string'))
  );
}

/**
 * The flow in the request's cookie header, when there is one that opens under `key` and has not
 * expired at `now`; `undefined` for a missing, tampered, foreign or expired cookie.
 */
export function readFlowCookie(key: Buffer, secure: boolean, cookieHeader: string | undefined, now: number): FlowState | undefined {
  const value = cookieHeader ? parseCookie(cookieHeader)[flowCookieName(secure)] : undefined;
  if (!value) return undefined;
  try {
    const flow: unknown = JSON.parse(unseal(key, value, ASSOCIATED_DATA).toString('utf8'));
    return isFlowState(flow) && now < flow.expiresAt ? flow : undefined;
  } catch (error) {
    if (error instanceof LatchkeyError || error instanceof SyntaxError) return undefined;
    throw error;
  }
}
