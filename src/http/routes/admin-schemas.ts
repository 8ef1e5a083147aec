/**
 * JSON schemas of the admin API (docs/admin.md#http-api): request validation, response
 * serialisation and the OpenAPI document, as for the auth routes (`./auth-schemas.ts`).
 */
import { always, bearer, challenge, failure, SESSION_FAILURES, stepUpChallenge, withBody } from './auth-schemas.js';

/** Every admin route: the caller's token and session, role and level. */
const adminFailures = {
  401: failure(
    'no, invalid or expired access token, or its session was revoked (a disabled admin too); STEP_UP_REQUIRED: the admin has a second factor and the token is aal1',
    [...SESSION_FAILURES, 'STEP_UP_REQUIRED'],
    { ...challenge, ...stepUpChallenge },
  ),
  403: failure('the caller does not have role admin (in the store, now)', ['FORBIDDEN']),
} as const;

const userId = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
const notFound = failure('no such user', ['NOT_FOUND']);

const adminUser = {
  type: 'object',
  required: ['id', 'email', 'role', 'disabled', 'emailVerified', 'createdAt'],
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    role: { type: 'string' },
    disabled: { type: 'boolean' },
    emailVerified: { type: 'boolean' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const cursorPage = {
  limit: { type: 'integer', minimum: 1, maximum: 200, description: 'page size, default 50' },
  cursor: { type: 'string', description: 'nextCursor of the previous page (opaque)' },
} as const;

const badQuery = failure('a limit outside 1–200, a cursor this server did not give, an over-long filter', ['VALIDATION_FAILED']);

export const adminSchemas = {
  listUsers: {
    summary: 'Users in creation order, searched by address or id, a page at a time',
    security: bearer,
    querystring: {
      type: 'object',
      properties: { query: { type: 'string', description: 'case-insensitive substring of the address, or exactly an id' }, ...cursorPage },
    },
    response: {
      ...always,
      200: {
        type: 'object',
        required: ['users', 'nextCursor'],
        properties: { users: { type: 'array', items: adminUser }, nextCursor: { type: ['string', 'null'] } },
      },
      400: badQuery,
      ...adminFailures,
    },
  },
  getUser: {
    summary: 'A user with their live sessions and second factors (never a secret)',
    security: bearer,
    params: userId,
    response: {
      ...always,
      200: {
        type: 'object',
        required: ['user', 'sessions', 'factors'],
        properties: {
          user: adminUser,
          sessions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'createdAt', 'lastUsedAt', 'expiresAt', 'userAgent', 'ip', 'acr', 'amr'],
              properties: {
                id: { type: 'string' },
                createdAt: { type: 'string', format: 'date-time' },
                lastUsedAt: { type: 'string', format: 'date-time' },
                expiresAt: { type: 'string', format: 'date-time' },
                userAgent: { type: ['string', 'null'] },
                ip: { type: ['string', 'null'] },
                acr: { type: 'string' },
                amr: { type: 'array', items: { type: 'string' } },
              },
            },
          },
          factors: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'type', 'createdAt', 'lastUsedAt'],
              properties: {
                id: { type: 'string' },
                type: { type: 'string', enum: ['totp', 'webauthn'] },
                createdAt: { type: 'string', format: 'date-time' },
                lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
              },
            },
          },
        },
      },
      400: failure('an id longer than 64 characters', ['VALIDATION_FAILED']),
      ...adminFailures,
      404: notFound,
    },
  },
  updateUser: {
    summary: 'Change role, disabled and/or e-mail verification (disabling revokes every session)',
    security: bearer,
    params: userId,
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        role: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
        disabled: { type: 'boolean' },
        emailVerified: { type: 'boolean' },
      },
    },
    response: {
      ...withBody,
      200: { type: 'object', required: ['user'], properties: { user: adminUser } },
      400: failure('malformed JSON, an unknown field, a role outside [A-Za-z0-9_.:-]{1,64}', ['VALIDATION_FAILED']),
      ...adminFailures,
      404: notFound,
      409: failure('the change would leave no enabled admin', ['LAST_ADMIN']),
    },
  },
  deleteUser: {
    summary: 'Delete the account and everything it owns (audit rows keep only the id)',
    security: bearer,
    params: userId,
    response: {
      ...always,
      204: { type: 'null', description: 'deleted' },
      400: failure('an id longer than 64 characters', ['VALIDATION_FAILED']),
      ...adminFailures,
      404: notFound,
      409: failure('the account is the last enabled admin', ['LAST_ADMIN']),
    },
  },
  revokeSessions: {
    summary: 'Revoke every session of the user (or only body.sessionId); their refresh tokens answer 401',
    security: bearer,
    params: userId,
    // No body schema: the body is optional; `{sessionId}` when given (checked by the route).
    response: {
      ...withBody,
      200: { type: 'object', required: ['revokedSessions'], properties: { revokedSessions: { type: 'integer' } } },
      400: failure('malformed JSON, an unknown field, an id longer than 64 characters', ['VALIDATION_FAILED']),
      ...adminFailures,
      404: failure('no such user, or no such live session of the user', ['NOT_FOUND']),
    },
  },
  audit: {
    summary: 'The audit log, newest first, filtered by user (about or by), actor and type',
    security: bearer,
    querystring: {
      type: 'object',
      properties: {
        userId: { type: 'string', description: 'events about this user or done by them' },
        actorId: { type: 'string', description: 'events done by this actor (an admin id, or cli)' },
        type: { type: 'string', description: 'one event type (docs/events.md)' },
        ...cursorPage,
      },
    },
    response: {
      ...always,
      200: {
        type: 'object',
        required: ['events', 'nextCursor'],
        properties: {
          events: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'type', 'at', 'userId', 'actorId', 'sessionId', 'data'],
              properties: {
                id: { type: 'integer' },
                type: { type: 'string' },
                at: { type: 'string', format: 'date-time' },
                userId: { type: ['string', 'null'] },
                actorId: { type: ['string', 'null'] },
                sessionId: { type: ['string', 'null'] },
                ip: { type: 'string' },
                data: { type: 'object' },
              },
            },
          },
          nextCursor: { type: ['string', 'null'] },
        },
      },
      400: badQuery,
      ...adminFailures,
    },
  },
  webhooks: {
    summary: 'Webhook deliveries in event order (state=dead: the dead letters), a page at a time',
    security: bearer,
    querystring: {
      type: 'object',
      properties: { state: { type: 'string', enum: ['pending', 'delivering', 'delivered', 'dead'] }, ...cursorPage },
    },
    response: {
      ...always,
      200: {
        type: 'object',
        required: ['deliveries', 'nextCursor'],
        properties: {
          deliveries: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'type', 'at', 'userId', 'state', 'attempts', 'queuedAt', 'nextAttemptAt', 'deliveredAt', 'lastError'],
              properties: {
                id: { type: 'integer', description: 'the audit event id: the webhook-id' },
                type: { type: 'string' },
                at: { type: 'string', format: 'date-time' },
                userId: { type: ['string', 'null'] },
                state: { type: 'string', enum: ['pending', 'delivering', 'delivered', 'dead'] },
                attempts: { type: 'integer', description: 'attempts of the current series' },
                queuedAt: { type: 'string', format: 'date-time' },
                nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
                deliveredAt: { type: ['string', 'null'], format: 'date-time' },
                lastError: { type: ['string', 'null'], description: 'HTTP 500, timeout, ECONNREFUSED, … — never the receiver’s text' },
              },
            },
          },
          nextCursor: { type: ['string', 'null'] },
        },
      },
      400: failure('an unknown state, a limit outside 1–200, a cursor this server did not give', ['VALIDATION_FAILED']),
      ...adminFailures,
    },
  },
  retryWebhooks: {
    summary: 'Queue dead-lettered webhook deliveries again (all, or body.ids) with a fresh series of attempts',
    security: bearer,
    // No body schema: the body is optional; `{ids}` when given (checked by the route).
    response: {
      ...withBody,
      200: {
        type: 'object',
        required: ['requeued'],
        properties: { requeued: { type: 'integer', description: 'dead letters queued again (ids that are not dead letters are skipped)' } },
      },
      400: failure('malformed JSON, an unknown field, ids not a list of up to 100 event ids', ['VALIDATION_FAILED']),
      ...adminFailures,
    },
  },
} as const;
