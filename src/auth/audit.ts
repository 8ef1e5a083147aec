/**
 * What every part of the auth flow shares: who is asking ({@link RequestContext}) and where
 * audited events go ({@link Audit}: the store's audit log, then the observers).
 */
import type { AuditEventInput, Store } from '../store/types.js';
import type { DpopRequest } from './dpop-proofs.js';

/** Who is making the request, as far as the edge can tell. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
  /** The request's DPoP proof, where the endpoint takes one (login, refresh, logout). */
  dpop?: DpopRequest | undefined;
}

/** Appends an audit event, then tells the observers (metrics, logs). */
export type Audit = (event: AuditEventInput) => Promise<void>;

/** The {@link Audit} of a store and an observer (which must not throw). */
export function auditTo(store: Store, onEvent: ((event: AuditEventInput) => void) | undefined): Audit {
  return async (event) => {
    await store.appendAudit(event);
    onEvent?.(event);
  };
}
