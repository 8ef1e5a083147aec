/**
 * The framework-neutral HTTP exchange the auth routes are written against, once. An edge (the
 * Fastify plugin, the Express router) builds an {@link HttpRequest} from its own request object,
 * calls the route, and writes the {@link HttpAnswer} back; nothing in between knows which
 * framework runs. Bodies are serialised here, so every edge sends the same bytes.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

export interface HttpRequest {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** The client address as the edge determined it (its trust-proxy rules applied). */
  readonly ip: string | null;
  /** The parsed JSON body (`src/http/body.ts`); `undefined` when none was sent. */
  readonly body: unknown;
  /** Path parameters (`/sessions/:id` → `{ id }`). */
  readonly params: Readonly<Record<string, string>>;
  /** Where the routes are mounted (`/auth`): the refresh cookie's `Path`. */
  readonly mountPath: string;
  /** The request's full path without the query (`/auth/sessions/abc`): the `htu` of its DPoP proof. */
  readonly path: string;
  /** The query string without its `?` (`''` when none). */
  readonly search?: string;
}

export interface HttpAnswer {
  status: number;
  /** Header names in lower case; `set-cookie` may repeat; a redirect's `location`. */
  headers: Record<string, string | string[]>;
  /** Serialised JSON; `undefined` for an empty body (204, 302). */
  body?: string;
}

/** A route of the auth API: method, path relative to the mount, schema (validation and OpenAPI), handler. */
export interface HttpRoute {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** `/login`, `/sessions/:id`. */
  readonly path: string;
  /** JSON schemas of the route (`routes/auth-schemas.ts`); the handler validates with them. */
  readonly schema: object;
  handle(request: HttpRequest): Promise<HttpAnswer>;
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** A JSON answer: `value` serialised, `Content-Type: application/json; charset=utf-8`. */
export function jsonAnswer(status: number, value: unknown, headers: Record<string, string | string[]> = {}): HttpAnswer {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE, ...headers }, body: JSON.stringify(value) };
}

/** Writes `answer` to a Node response (the Express edge; Fastify's is `sendAnswer`). Node drops the body of a `HEAD`. */
export function writeAnswer(res: ServerResponse, answer: HttpAnswer): void {
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}
