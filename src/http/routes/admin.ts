/**
 * The admin API (docs/admin.md#http-api), written against the framework-neutral exchange like
 * the auth routes and mounted at `/admin`. Every route first resolves the caller and has the
 * service authorise it (`auth/admin.ts` decides: role, live session, aal2); handlers only
 * translate. Further admin routes are added to the list {@link adminRoutes} returns.
 */
import { ApiError } from '../../errors.js';
import type { Latchkey } from '../../latchkey.js';
import type { AdminActor } from '../../store/types.js';
import { jsonAnswer, type HttpRequest, type HttpRoute } from '../exchange.js';
import { adminSchemas } from './admin-schemas.js';
import { routeKit } from './auth.js';

/** The query string's parameters; a repeated one is refused (it has one meaning). */
function queryOf(request: HttpRequest, allowed: readonly string[]): Record<string, string> {
  const params = new URLSearchParams(request.search ?? '');
  const out: Record<string, string> = {};
  for (const [name, value] of params) {
    if (!allowed.includes(name)) throw new ApiError('VALIDATION_FAILED', `Unknown query parameter: ${name.slice(0, 40)}.`);
    if (name in out) throw new ApiError('VALIDATION_FAILED', `Repeated query parameter: ${name}.`);
    out[name] = value;
  }
  return out;
}

/** `limit` as a decimal integer, else 400 (the range is the service's). */
function limitOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,4}$/.test(value)) throw new ApiError('VALIDATION_FAILED', 'limit must be an integer 1–200.');
  return Number(value);
}

const optional = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

/** The routes of the admin API, relative to their mount path (`/admin`). */
export function adminRoutes(latchkey: Latchkey): HttpRoute[] {
  const { admin } = latchkey.auth;
  const { route, principalOf, context } = routeKit(latchkey);

  /** The admin making `request`, or the 401/403 that says why not. */
  const actorOf = async (request: HttpRequest): Promise<AdminActor> => admin.authorize(await principalOf(request), context(request));

  return [
    route('GET', '/users', adminSchemas.listUsers, async (request) => {
      await actorOf(request);
      const q = queryOf(request, ['query', 'limit', 'cursor']);
      const query = optional(q.query);
      const limit = limitOf(optional(q.limit));
      const cursor = optional(q.cursor);
      return jsonAnswer(
        200,
        await admin.listUsers({
          ...(query === undefined ? {} : { query }),
          ...(limit === undefined ? {} : { limit }),
          ...(cursor === undefined ? {} : { cursor }),
        }),
      );
    }),

    route('GET', '/users/:id', adminSchemas.getUser, async (request) => {
      await actorOf(request);
      return jsonAnswer(200, await admin.getUser(request.params.id!));
    }),

    route('PATCH', '/users/:id', adminSchemas.updateUser, async (request) => {
      const actor = await actorOf(request);
      const body = (request.body ?? {}) as { role?: string; disabled?: boolean; emailVerified?: boolean };
      const user = await admin.updateUser(
        request.params.id!,
        {
          ...(body.role === undefined ? {} : { role: body.role }),
          ...(body.disabled === undefined ? {} : { disabled: body.disabled }),
          ...(body.emailVerified === undefined ? {} : { emailVerified: body.emailVerified }),
        },
        actor,
      );
      return jsonAnswer(200, { user });
    }),

    route('DELETE', '/users/:id', adminSchemas.deleteUser, async (request) => {
      await admin.deleteUser(request.params.id!, await actorOf(request));
      return { status: 204, headers: {} };
    }),

    route('POST', '/users/:id/sessions/revoke', adminSchemas.revokeSessions, async (request) => {
      const actor = await actorOf(request);
      const body = request.body as Record<string, unknown> | undefined;
      const sessionId = body?.sessionId;
      if (body !== undefined && (Object.keys(body).some((k) => k !== 'sessionId') || (sessionId !== undefined && typeof sessionId !== 'string'))) {
        throw new ApiError('VALIDATION_FAILED', 'The body is optional: {sessionId}.');
      }
      if (typeof sessionId === 'string' && sessionId.length > 64) throw new ApiError('VALIDATION_FAILED', 'Invalid field: sessionId.');
      return jsonAnswer(200, { revokedSessions: await admin.revokeSessions(request.params.id!, actor, sessionId as string | undefined) });
    }),

    route('GET', '/audit', adminSchemas.audit, async (request) => {
      await actorOf(request);
      const q = queryOf(request, ['userId', 'actorId', 'type', 'limit', 'cursor']);
      const filters: { userId?: string; actorId?: string; type?: string; limit?: number; cursor?: string } = {};
      for (const name of ['userId', 'actorId', 'type', 'cursor'] as const) {
        const value = optional(q[name]);
        if (value !== undefined) filters[name] = value;
      }
      const limit = limitOf(optional(q.limit));
      if (limit !== undefined) filters.limit = limit;
      return jsonAnswer(200, await admin.queryAudit(filters));
    }),

    route('GET', '/webhooks', adminSchemas.webhooks, async (request) => {
      await actorOf(request);
      const q = queryOf(request, ['state', 'limit', 'cursor']);
      const state = optional(q.state);
      const limit = limitOf(optional(q.limit));
      const cursor = optional(q.cursor);
      return jsonAnswer(
        200,
        await admin.listWebhooks({
          ...(state === undefined ? {} : { state }),
          ...(limit === undefined ? {} : { limit }),
          ...(cursor === undefined ? {} : { cursor }),
        }),
      );
    }),

    route('POST', '/webhooks/retry', adminSchemas.retryWebhooks, async (request) => {
      const actor = await actorOf(request);
      const body = request.body as Record<string, unknown> | undefined;
      const ids = body?.ids;
      if (body !== undefined && (Object.keys(body).some((k) => k !== 'ids') || (ids !== undefined && !Array.isArray(ids)))) {
        throw new ApiError('VALIDATION_FAILED', 'The body is optional: {ids}.');
      }
      return jsonAnswer(200, { requeued: await admin.retryWebhooks(actor, ids as number[] | undefined) });
    }),
  ];
}
