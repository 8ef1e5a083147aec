/**
 * JSON schemas of the auth routes: request validation, response serialisation (a field
 * not listed here can never leak into a response) and, later, the OpenAPI document.
 */
const errorBody = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

const credentials = {
  type: 'object',
  required: ['email', 'password'],
  properties: {
    email: { type: 'string', maxLength: 254 },
    // Length policy is enforced by the service (422 / 401), not the schema (400).
    password: { type: 'string' },
  },
} as const;

const tokenResponse = {
  type: 'object',
  required: ['accessToken', 'tokenType', 'expiresIn'],
  properties: {
    accessToken: { type: 'string' },
    tokenType: { type: 'string', enum: ['Bearer'] },
    expiresIn: { type: 'integer', description: 'seconds until the access token expires' },
    refreshToken: { type: 'string', description: 'only with X-Latchkey-Transport: body' },
  },
} as const;

const publicUser = {
  type: 'object',
  required: ['id', 'email', 'role'],
  properties: { id: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' } },
} as const;

const message = { type: 'object', properties: { message: { type: 'string' } } } as const;

const bearer = [{ bearerAuth: [] }];

export const schemas = {
  register: {
    summary: 'Create an account',
    body: credentials,
    response: { 201: { type: 'object', required: ['user'], properties: { user: publicUser } }, '4xx': errorBody },
  },
  login: {
    summary: 'Sign in; sets the refresh cookie',
    body: credentials,
    response: { 200: tokenResponse, '4xx': errorBody },
  },
  refresh: {
    summary: 'Rotate the refresh token and get a new access token',
    // No body schema: cookie-mode requests have no body. With X-Latchkey-Transport: body the
    // service reads `refreshToken` and treats anything else as an invalid token.
    response: { 200: tokenResponse, '4xx': errorBody },
  },
  logout: {
    summary: 'Revoke the session of the presented refresh token',
    response: { 200: message, '4xx': errorBody },
  },
  logoutAll: {
    summary: 'Revoke every session of the user',
    security: bearer,
    response: {
      200: { type: 'object', properties: { message: { type: 'string' }, revokedSessions: { type: 'integer' } } },
      '4xx': errorBody,
    },
  },
  me: { summary: 'The signed-in user', security: bearer, response: { 200: publicUser, '4xx': errorBody } },
  sessions: {
    summary: 'Live sessions of the user',
    security: bearer,
    response: {
      200: {
        type: 'object',
        required: ['sessions'],
        properties: {
          sessions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'createdAt', 'lastUsedAt', 'expiresAt', 'userAgent', 'ip', 'current'],
              properties: {
                id: { type: 'string' },
                createdAt: { type: 'string', format: 'date-time' },
                lastUsedAt: { type: 'string', format: 'date-time' },
                expiresAt: { type: 'string', format: 'date-time' },
                userAgent: { type: ['string', 'null'] },
                ip: { type: ['string', 'null'] },
                current: { type: 'boolean' },
              },
            },
          },
        },
      },
      '4xx': errorBody,
    },
  },
  revokeSession: {
    summary: "Revoke one of the user's sessions",
    security: bearer,
    params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
    response: { 204: { type: 'null' }, '4xx': errorBody },
  },
  password: {
    summary: 'Change the password; every other session is revoked',
    security: bearer,
    body: {
      type: 'object',
      required: ['currentPassword', 'newPassword'],
      properties: { currentPassword: { type: 'string' }, newPassword: { type: 'string' } },
    },
    response: { 200: message, '4xx': errorBody },
  },
} as const;
