/**
 * How the refresh token travels: an httpOnly cookie for browsers
 * (docs/http-api.md#the-refresh-cookie), or the JSON body for non-browser clients that send
 * `X-Latchkey-Transport: body` (docs/http-api.md#body-transport).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CookieSerializeOptions } from '@fastify/cookie';

export interface CookieSettings {
  secure: boolean;
  /** Cookie `Path`: the prefix the auth routes are mounted at (default `/auth`). */
  path: string;
}

export function refreshCookieName(secure: boolean): string {
  // Browsers refuse the `__Secure-` prefix on a cookie without `Secure`.
  return secure ? '__Secure-refreshToken' : 'refreshToken';
}

export function usesBodyTransport(request: FastifyRequest): boolean {
  return String(request.headers['x-latchkey-transport'] ?? '').toLowerCase() === 'body';
}

function cookieOptions(settings: CookieSettings, maxAge: number): CookieSerializeOptions {
  return { httpOnly: true, secure: settings.secure, sameSite: 'strict', path: settings.path, maxAge };
}

/** The presented refresh token, from the body (body transport) or the cookie. */
export function readRefreshToken(request: FastifyRequest, settings: CookieSettings): string | undefined {
  if (usesBodyTransport(request)) {
    const value = (request.body as { refreshToken?: unknown } | undefined)?.refreshToken;
    return typeof value === 'string' && value !== '' ? value : undefined;
  }
  const value = request.cookies[refreshCookieName(settings.secure)];
  return value === undefined || value === '' ? undefined : value;
}

export function setRefreshCookie(reply: FastifyReply, settings: CookieSettings, token: string, expiresAt: number, now: number): void {
  const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
  reply.setCookie(refreshCookieName(settings.secure), token, cookieOptions(settings, maxAge));
}

export function clearRefreshCookie(reply: FastifyReply, settings: CookieSettings): void {
  reply.setCookie(refreshCookieName(settings.secure), '', cookieOptions(settings, 0));
}
