/**
 * Logging: pino, one line per request, never a token, password, cookie or key.
 * Request lines carry method, route pattern or path (never a query, fragment or matrix
 * parameter), status, duration and client address only;
 * headers and bodies are never logged, and the redaction list is a second net.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';
import { clientAddress } from './client-address.js';

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.password',
        '*.currentPassword',
        '*.newPassword',
        '*.refreshToken',
        '*.accessToken',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: () => undefined,
      res: () => undefined,
    },
  };
}

/** The longest path the request log writes: the path of an unrouted request is the client's text. */
const MAX_LOGGED_PATH = 200;

/**
 * What the request log names (docs/security.md, "What the request log holds"): the pattern of
 * the route that matched (`/auth/sessions/:id`, never the id), otherwise the raw path up to the
 * first `?`, `#` or `;` — a query, a fragment sent on the request line, or a matrix parameter
 * can carry a token — and at most 200 characters of it.
 */
function loggedPath(request: FastifyRequest): string {
  const pattern = request.is404 ? undefined : request.routeOptions.url;
  if (pattern !== undefined) return pattern;
  const path = /^[^?#;]*/.exec(request.url)?.[0] ?? '';
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH - 1)}…` : path;
}

/** The single log line of a request: method, path, status, duration, client address. */
export function logRequest(request: FastifyRequest, reply: FastifyReply): void {
  request.log.info(
    {
      method: request.method,
      path: loggedPath(request),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ip: clientAddress(request),
    },
    'request',
  );
}

/** Adds the single per-request log line (Fastify's own request logging is disabled). */
export function installRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    logRequest(request, reply);
  });
}
