/**
 * GET /openapi.json: generated from the route schemas, a valid OpenAPI 3.1 document, and in
 * agreement with the endpoint table of docs/http-api.md (routes, auth, statuses, codes).
 */
import { readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startTestServer, type TestServer } from '../helpers/server.js';

const V1_ROUTES: Array<[string, string]> = [
  ['post', '/auth/register'],
  ['post', '/auth/login'],
  ['post', '/auth/refresh'],
  ['post', '/auth/logout'],
  ['post', '/auth/logout-all'],
  ['get', '/auth/me'],
  ['get', '/auth/sessions'],
  ['delete', '/auth/sessions/{id}'],
  ['post', '/auth/password'],
  ['get', '/.well-known/jwks.json'],
  ['post', '/auth/password/forgot'],
  ['post', '/auth/password/reset'],
  ['post', '/auth/email/verify'],
  ['post', '/auth/email/verify/resend'],
  ['post', '/auth/email/change'],
  ['get', '/.well-known/openid-configuration'],
  ['get', '/.well-known/oauth-authorization-server'],
];

interface Row {
  method: string;
  /** In OpenAPI form: `/auth/sessions/{id}`. */
  path: string;
  auth: string;
  /** Every success status the table names (`200 {keys}, 304`). */
  success: string[];
  /** Status → codes, as the table lists them. */
  errors: Map<string, string[]>;
}

/** The rows of the endpoint table in docs/http-api.md. */
function endpointTable(): Row[] {
  const doc = readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('\n## Endpoints'), doc.indexOf('\n### ', doc.indexOf('\n## Endpoints')));
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const route = /`(GET|POST|DELETE|PATCH|PUT) ([^`]+)`/.exec(cells[0] ?? '');
    if (!route || cells.length !== 4) continue;
    const errors = new Map<string, string[]>();
    let status: string | undefined;
    for (const [, number, code] of cells[3]!.matchAll(/\b(\d{3})\b|`([A-Z_]+)`/g)) {
      if (number) {
        status = number;
        errors.set(status, []);
      } else errors.get(status!)!.push(code!);
    }
    rows.push({
      method: route[1]!.toLowerCase(),
      path: route[2]!.replace(/:(\w+)/g, '{$1}'),
      auth: cells[1]!,
      success: [...cells[2]!.matchAll(/\b\d{3}\b/g)].map((m) => m[0]),
      errors,
    });
  }
  return rows;
}

describe('GET /openapi.json', () => {
  let t: TestServer;
  let doc: any;
  beforeAll(async () => {
    t = await startTestServer();
    const res = await t.client.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = res.body;
  });
  afterAll(async () => {
    await t.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it('describes every route of docs/http-api.md, and no page', () => {
    for (const [method, path] of V1_ROUTES) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    for (const page of ['/', '/decoder', '/openapi.json', '/auth/reset-password', '/auth/verify-email']) expect(doc.paths[page]).toBeUndefined();
  });

  it('agrees with the endpoint table of docs/http-api.md: routes, auth, success, codes per status', () => {
    const rows = endpointTable().filter((r) => r.path !== '/metrics'); // Prometheus text, not in the document
    expect(rows.length).toBeGreaterThanOrEqual(V1_ROUTES.length);
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods as object).map((m) => `${m} ${path}`));
    expect(rows.map((r) => `${r.method} ${r.path}`).sort()).toEqual(documented.sort());
    for (const row of rows) {
      const op = doc.paths[row.path][row.method];
      const label = `${row.method} ${row.path}`;
      const security = JSON.stringify(op.security ?? []);
      if (row.auth === 'bearer') expect(security, label).toBe('[{"bearerAuth":[]}]');
      else if (row.auth.startsWith('refresh cookie')) expect(security, label).toContain('refreshCookie');
      else expect(row.auth, label).toBe('—');
      // Besides the table: what every body can cause, and the 4XX/5XX fallbacks.
      const implied = new Set(['4XX', '5XX', ...(row.method === 'post' || row.method === 'patch' ? ['400', '413', '415'] : [])]);
      const statuses = Object.keys(op.responses);
      for (const success of row.success) expect(statuses, label).toContain(success);
      for (const status of statuses) {
        if (row.success.includes(status) || implied.has(status)) continue;
        expect([...row.errors.keys()], `${label}: ${status} is in the document, not in the table`).toContain(status);
      }
      for (const [status, codes] of row.errors) {
        const schema = op.responses[status]?.content?.['application/json']?.schema;
        expect(schema, `${label}: ${status} is in the table, not in the document`).toBeDefined();
        expect([...schema.properties.error.enum].sort(), `${label} ${status}`).toEqual([...codes].sort());
      }
    }
  });

  it('documents the body transport, the cookie and the headers of the answers', () => {
    for (const path of ['/auth/login', '/auth/refresh', '/auth/logout']) {
      expect(doc.paths[path].post.parameters, path).toContainEqual(expect.objectContaining({ in: 'header', name: 'x-latchkey-transport' }));
    }
    expect(doc.paths['/auth/refresh'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('refreshToken');
    expect(doc.paths['/auth/login'].post.responses['200'].headers).toHaveProperty('set-cookie');
    expect(doc.paths['/auth/login'].post.responses['429'].headers).toHaveProperty('retry-after');
    expect(doc.paths['/auth/me'].get.responses['401'].headers).toHaveProperty('www-authenticate');
    expect(doc.components.securitySchemes.refreshCookie).toMatchObject({ type: 'apiKey', in: 'cookie', name: '__Secure-refreshToken' });
    expect(doc.paths['/.well-known/jwks.json'].get.responses['200'].content['application/json'].schema.required).toEqual(['keys']);
    for (const path of ['/.well-known/jwks.json', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      for (const status of ['200', '304']) {
        expect(Object.keys(doc.paths[path].get.responses[status].headers), `${path} ${status}`).toEqual(
          expect.arrayContaining(['etag', 'cache-control', 'access-control-allow-origin']),
        );
      }
    }
    expect(doc.paths['/.well-known/openid-configuration'].get.responses['200'].content['application/json'].schema.required).toContain('jwks_uri');
  });

  it('is generated from the route schemas: bodies, responses, security', () => {
    const login = doc.paths['/auth/login'].post;
    expect(login.requestBody.content['application/json'].schema).toMatchObject({ required: ['email', 'password'] });
    expect(login.responses['200'].content['application/json'].schema.properties).toHaveProperty('accessToken');
    expect(login.responses['4XX'].content['application/json'].schema.required).toEqual(['error', 'message']);
    expect(doc.paths['/auth/me'].get.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/auth/sessions/{id}'].delete.parameters[0]).toMatchObject({ name: 'id', in: 'path', required: true });
  });
});
