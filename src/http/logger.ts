/**
 * Logging: pino, one line per request, never a token, password, cookie or key.
 * Request lines carry method, route path (no query string), status and duration only;
 * headers and bodies are never logged, and the redaction list is a second net.
 */
import type { FastifyInstance } from 'fastify';
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

/** Adds the single per-request log line (Fastify's own request logging is disabled). */
export function installRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const path = request.url.split('?', 1)[0];
    request.log.info(
      { method: request.method, path, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ip: clientAddress(request) },
      'request',
    );
  });
}
