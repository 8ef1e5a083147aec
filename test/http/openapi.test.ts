/** GET /openapi.json: generated from the route schemas, a valid OpenAPI 3.1 document, every §3 route in it. */
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
];

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
    for (const page of ['/', '/decoder', '/openapi.json']) expect(doc.paths[page]).toBeUndefined();
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
