/**
 * What a webhook carries: the body of an audit event (docs/admin.md#webhooks) and its Standard
 * Webhooks signature. The body is a pure function of the outbox's copy of the event, so every
 * attempt of one delivery sends the same bytes; only `webhook-timestamp` and the signature change.
 */
import { createHmac } from 'node:crypto';
import { PERSONAL_DETAIL } from '../store/admin.js';
import type { WebhookEvent } from '../store/types.js';

/** The JSON body: `{type, timestamp, data: {eventId, userId, actorId?, sessionId?, …detail}}`. */
export function webhookBody(event: WebhookEvent): string {
  const { actorId: _actorId, sessionId, eventId: _eventId, userId: _userId, ...rest } = event.detail ?? {};
  // Personal details the audit log keeps for operators (IP, user agent, what is derived from an
  // address) are never sent: erasing a deleted user's data in the trail cannot reach a copy sent.
  const detail = Object.fromEntries(Object.entries(rest).filter(([key]) => !PERSONAL_DETAIL.has(key)));
  const session = event.sessionId ?? (typeof sessionId === 'string' ? sessionId : undefined);
  const data = {
    eventId: event.eventId,
    userId: event.userId,
    ...(event.actorId === null ? {} : { actorId: event.actorId }),
    ...(session === undefined ? {} : { sessionId: session }),
    ...detail,
  };
  return JSON.stringify({ type: event.type, timestamp: new Date(event.at).toISOString(), data });
}

/**
 * The Standard Webhooks headers of one attempt: `webhook-signature` is `v1,` + base64 of
 * HMAC-SHA256(key, `${id}.${timestamp}.${body}`), `timestamp` in whole seconds.
 */
export function signedHeaders(
  key: Buffer,
  id: string,
  body: string,
  nowMs: number,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}
