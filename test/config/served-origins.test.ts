/**
 * With no `LATCHKEY_ISSUER`, the issuer and the allowed origins follow the listen address
 * (docs/http-api.md#configuration); an explicit issuer is taken exactly as before.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, servedOrigins } from '../../src/config/config.js';
import { assertSameSite } from '../../src/http/csrf.js';

describe('servedOrigins(host, port)', () => {
  it.each([
    ['127.0.0.1', ['http://localhost:3100', 'http://127.0.0.1:3100']],
    ['localhost', ['http://localhost:3100', 'http://127.0.0.1:3100', 'http://[::1]:3100']],
    ['LocalHost', ['http://localhost:3100', 'http://127.0.0.1:3100', 'http://[::1]:3100']],
    ['::1', ['http://localhost:3100', 'http://[::1]:3100']],
    ['[::1]', ['http://localhost:3100', 'http://[::1]:3100']],
    ['0.0.0.0', ['http://localhost:3100', 'http://127.0.0.1:3100']],
    ['::', ['http://localhost:3100', 'http://127.0.0.1:3100', 'http://[::1]:3100']],
    // localhost resolves to 127.0.0.1 and ::1 only: another loopback address is just itself.
    ['127.0.0.2', ['http://127.0.0.2:3100']],
    ['192.168.1.5', ['http://192.168.1.5:3100']],
    ['fe80::1', ['http://[fe80::1]:3100']],
    ['Auth.Internal', ['http://auth.internal:3100']],
    ['auth_server', ['http://auth_server:3100']],
  ])('%s → %j, the first one the issuer', (host, origins) => {
    expect(servedOrigins(host, 3100)).toEqual({ issuer: origins[0], allowedOrigins: origins });
  });

  it('port 80 is the default port of http: the origin has none, as browsers send it', () => {
    expect(servedOrigins('127.0.0.1', 80)).toEqual({ issuer: 'http://localhost', allowedOrigins: ['http://localhost', 'http://127.0.0.1'] });
  });

  it.each(['not a host', 'a/b', 'user@host', 'host:1234', '', '[::1'])('%j is neither an address nor a host name: undefined', (host) => {
    expect(servedOrigins(host, 3000)).toBeUndefined();
  });
});

describe('loadConfig: the issuer and origins follow PORT and HOST unless LATCHKEY_ISSUER is set', () => {
  it('no configuration: the default issuer is unchanged, and both loopback spellings are origins', () => {
    const config = loadConfig({});
    expect(config.issuer).toBe('http://localhost:3000');
    expect(config.allowedOrigins).toEqual(['http://localhost:3000', 'http://127.0.0.1:3000']);
  });

  it('another port and host: issuer and origins name them, and the cross-site check lets exactly those through', () => {
    const config = loadConfig({ PORT: '3100' });
    expect(config.issuer).toBe('http://localhost:3100');
    for (const origin of ['http://localhost:3100', 'http://127.0.0.1:3100']) {
      expect(() => assertSameSite({ origin }, config.allowedOrigins)).not.toThrow();
    }
    for (const origin of ['http://localhost:3000', 'http://127.0.0.1:3000', 'https://localhost:3100', 'http://evil.example']) {
      expect(() => assertSameSite({ origin }, config.allowedOrigins)).toThrow(expect.objectContaining({ code: 'CSRF_REJECTED' }));
    }
    expect(loadConfig({ PORT: '8080', HOST: '10.1.2.3' })).toMatchObject({
      issuer: 'http://10.1.2.3:8080',
      allowedOrigins: ['http://10.1.2.3:8080'],
    });
  });

  it('LATCHKEY_ISSUER set: taken exactly, its origin the only allowed one, whatever PORT and HOST say', () => {
    const config = loadConfig({ PORT: '3100', HOST: '0.0.0.0', LATCHKEY_ISSUER: 'https://auth.example.com/' });
    expect(config.issuer).toBe('https://auth.example.com/');
    expect(config.allowedOrigins).toEqual(['https://auth.example.com']);
    expect(() => assertSameSite({ origin: 'http://localhost:3100' }, config.allowedOrigins)).toThrow(
      expect.objectContaining({ code: 'CSRF_REJECTED' }),
    );
  });

  it('LATCHKEY_ALLOWED_ORIGINS set without an issuer: origins as given, issuer from the address', () => {
    const config = loadConfig({ PORT: '3100', LATCHKEY_ALLOWED_ORIGINS: 'https://app.example.com' });
    expect(config.issuer).toBe('http://localhost:3100');
    expect(config.allowedOrigins).toEqual(['https://app.example.com']);
  });

  it('an invalid HOST is refused with a coded error naming it (test/config/validation.test.ts has the rows)', () => {
    expect(() => loadConfig({ HOST: 'bad host' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', variable: 'HOST', reason: 'format' }));
  });
});
