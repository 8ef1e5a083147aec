/**
 * The redirect rule of provider sign-ins (src/oauth/redirect.ts): every way a `redirect` value
 * has been used for an open redirect — protocol-relative `//host`, the backslash browsers read as
 * a slash, `javascript:`, control characters and white space browsers strip, credentials,
 * look-alike prefixes — is refused; paths of this site and URLs under an allowed prefix pass.
 */
import { describe, expect, it } from 'vitest';
import { checkRedirect, MAX_REDIRECT_BYTES } from '../../src/oauth/redirect.js';

const PREFIXES = ['https://app.example/', 'https://other.example/signed-in/'];

describe('checkRedirect', () => {
  it('defaults to / when absent', () => {
    expect(checkRedirect(undefined, [])).toEqual({ ok: true, target: '/' });
  });

  it.each([
    '/',
    '/dashboard',
    '/a/b/c?tab=security&x=1',
    '/?',
    '/path/with%2F/encoded%5Cslash',
    '/ünïcode/päth',
    '/.well-known/x',
    '/a//b',
    `/${'a'.repeat(MAX_REDIRECT_BYTES - 1)}`,
  ])('allows the path %s', (value) => {
    expect(checkRedirect(value, [])).toEqual({ ok: true, target: value });
  });

  it.each([
    ['https://app.example/', 'https://app.example/'],
    ['https://app.example/after?x=1', 'https://app.example/after?x=1'],
    ['https://APP.example/after', 'https://app.example/after'],
    ['https://app.example:443/x', 'https://app.example/x'],
    ['https://other.example/signed-in/welcome', 'https://other.example/signed-in/welcome'],
  ])('allows %s under a configured prefix (as %s)', (value, target) => {
    expect(checkRedirect(value, PREFIXES)).toEqual({ ok: true, target });
  });

  it.each([
    ['another origin', 'https://evil.example/'],
    ['another origin with a configured prefix as its user name', 'https://app.example@evil.example/'],
    ['credentials on an allowed origin', 'https://user:pw@app.example/'],
    ['a look-alike host that starts with an allowed one', 'https://app.example.evil.example/'],
    ['http instead of https', 'http://app.example/'],
    ['another port', 'https://app.example:8443/'],
    ['a path outside the allowed prefix', 'https://other.example/elsewhere'],
    ['a dot-segment climbing out of the allowed prefix', 'https://other.example/signed-in/../admin'],
    ['protocol-relative', '//evil.example'],
    ['protocol-relative with a path', '//evil.example/path'],
    ['three slashes', '///evil.example'],
    ['the backslash trick', '/\\evil.example'],
    ['backslashes only', '\\\\evil.example'],
    ['a backslash later in the path', '/ok/..\\..\\evil'],
    ['javascript:', 'javascript:alert(1)'],
    ['JavaScript: in capitals', 'JaVaScRiPt:alert(document.cookie)'],
    ['javascript: after a slash-less scheme trick', 'javascript://%0aalert(1)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['a relative path', 'dashboard'],
    ['a scheme-relative host after a tab', '/\t/evil.example'],
    ['a newline (header injection)', '/ok\r\nSet-Cookie: x=1'],
    ['a NUL', '/ok\u0000'],
    ['DEL', '/ok\u007f'],
    ['a C1 control', '/ok\u0085'],
    ['a leading space', ' /ok'],
    ['a space inside', '/o k'],
    ['a no-break space', '/ok\u00a0'],
    ['a line separator', '/ok\u2028'],
    ['a zero-width space', '/\u200b/evil.example'],
    ['a fragment', '/ok#access_token=x'],
    ['the empty string', ''],
    ['one byte too long', `/${'a'.repeat(MAX_REDIRECT_BYTES)}`],
    ['too long in bytes, short in characters', `/${'é'.repeat(MAX_REDIRECT_BYTES / 2)}`],
    ['an allowed URL with a backslash', 'https://app.example\\@evil.example/'],
    ['an allowed URL with a fragment', 'https://app.example/#x'],
  ])('refuses %s', (_, value) => {
    expect(checkRedirect(value, PREFIXES)).toEqual({ ok: false });
  });

  it('refuses every absolute URL when no prefix is configured, even this server', () => {
    expect(checkRedirect('http://localhost:3000/', [])).toEqual({ ok: false });
  });
});
