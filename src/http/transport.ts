/**
 * How the refresh token travels: an httpOnly cookie for browsers
 * (docs/http-api.md#the-refresh-cookie), or the JSON body for non-browser clients that send
 * `X-Latchkey-Transport: body` (docs/http-api.md#body-transport).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';

export interface CookieSettings {
  secure: boolean;
  /** Cookie `Path`: the prefix the auth routes are mounted at (default `/auth`). */
  path: string;
}

export function refreshCookieName(secure: boolean): string {
  // Browsers refuse the `__Secure-` prefix on a cookie without `Secure`.
  return secure ? '__Secure-refreshToken' : 'refreshToken';
}

export function usesBodyTransport(headers: IncomingHttpHeaders): boolean {
  return String(headers['x-latchkey-transport'] ?? '').toLowerCase() === 'body';
}

function setCookie(settings: CookieSettings, value: string, maxAge: number): string {
  return stringifySetCookie({
    name: refreshCookieName(settings.secure),
    value,
    httpOnly: true,
    secure: settings.secure,
    sameSite: 'strict',
    path: settings.path,
    maxAge,
  });
}

/** The presented refresh token, from the body (body transport) or the cookie. */
export function readRefreshToken(headers: IncomingHttpHeaders, body: unknown, settings: CookieSettings): string | undefined {
  if (usesBodyTransport(headers)) {
    const value = (body as { refreshToken?: unknown } | undefined)?.refreshToken;
    return typeof value === 'string' && value !== '' ? value : undefined;
  }
  const header = headers.cookie;
  const value = header ? parseCookie(header)[refreshCookieName(settings.secure)] : undefined;
  return value === undefined || value === '' ? undefined : value;
}

/** The `Set-Cookie` value carrying `token` until `expiresAt` (epoch ms). */
export function refreshCookie(settings: CookieSettings, token: string, expiresAt: number, now: number): string {
  return setCookie(settings, token, Math.max(0, Math.floor((expiresAt - now) / 1000)));
}

/** The `Set-Cookie` value that deletes the refresh cookie. */
export function clearedRefreshCookie(settings: CookieSettings): string {
  return setCookie(settings, '', 0);
}
