/**
 * Translation of errors into the contract's `{error, message}` answers — the single
 * place where a code becomes an HTTP answer, for every edge (standalone server, Fastify
 * plugin, Express router, `requireAuth`), including the answers Fastify's router and Node's
 * HTTP parser would otherwise give on their own (docs/errors.md). Nothing here decides policy.
 *
 * Framework-neutral at run time: Fastify appears only as types (its errors are recognised by
 * their `code` and `statusCode`, and the Fastify handlers at the end only call `reply`).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ERROR_CODES, LatchkeyError, type ErrorCode } from '../errors.js';
import { RateLimitedError } from '../auth/rate-limit.js';
import { dpopChallenge } from './bearer.js';
import { jsonAnswer, type HttpAnswer } from './exchange.js';
import { logRequest } from './logger.js';

/** Fastify's own error codes that are the client's fault, and the contract code for each. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  // The router's own: a path that is not valid percent-encoding, a path parameter over 200 characters.
  FST_ERR_BAD_URL: 'VALIDATION_FAILED',
  FST_ERR_MAX_PARAM_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_FAILED',
};

/** Bearer failures carry an RFC 6750 challenge (docs/http-api.md#bearer-failures). */
const BEARER_CODES: ReadonlySet<ErrorCode> = new Set(['MISSING_TOKEN', 'INVALID_TOKEN', 'TOKEN_EXPIRED', 'SESSION_REVOKED']);

/** Headers of every answer of `latchkey serve` (the server's `onSend` hook adds them to the others). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = { 'x-content-type-options': 'nosniff' };

/** What an edge logs 5xx causes to (pino-compatible). */
export interface ErrorLogger {
  error(obj: object, msg?: string): void;
}

function bearerChallenge(code: ErrorCode): string {
  if (code === 'MISSING_TOKEN') return 'Bearer realm="latchkey"';
  return `Bearer realm="latchkey", error="invalid_token", error_description="${ERROR_CODES[code].message}"`;
}

/**
 * The answer of an {@link ApiError}: its status, `{error, message}` (plus its `details`), its
 * `headers`, `Cache-Control: no-store`, the RFC 6750 challenge for bearer failures (the DPoP
 * one for `USE_DPOP_NONCE`, docs/dpop.md#server-nonces) and `Retry-After`
 * for 429. ApiError messages are fixed texts: never a token, never a verifier detail.
 */
export function errorAnswer(error: ApiError): HttpAnswer {
  const headers: Record<string, string> = { ...error.headers, 'cache-control': 'no-store' };
  if (error.challenge !== undefined) headers['www-authenticate'] = error.challenge;
  else if (error.code === 'USE_DPOP_NONCE') headers['www-authenticate'] = dpopChallenge(error.code);
  else if (BEARER_CODES.has(error.code)) headers['www-authenticate'] = bearerChallenge(error.code);
  if (error instanceof RateLimitedError) headers['retry-after'] = String(error.retryAfter);
  return jsonAnswer(error.status, { error: error.code, message: error.message, ...error.details }, headers);
}

/** Maps any thrown error to an {@link ApiError}; unknown errors become `INTERNAL`. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof LatchkeyError && error.code === 'UNAVAILABLE') return new ApiError('UNAVAILABLE', undefined, { cause: error });
  const fastifyError = error as Partial<FastifyError>;
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return new ApiError(mapped);
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    if (fastifyError.statusCode === 413) return new ApiError('PAYLOAD_TOO_LARGE');
    if (fastifyError.statusCode === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE');
    return new ApiError('VALIDATION_FAILED');
  }
  return new ApiError('INTERNAL', undefined, { cause: error });
}

/** The answer for anything thrown while handling a request; a 5xx is logged (its cause's type and code only). */
export function failureAnswer(error: unknown, log: ErrorLogger): HttpAnswer {
  const apiError = toApiError(error);
  if (apiError.status >= 500) {
    // Log the cause's type and code, never its message: driver errors may quote parameters.
    const cause = apiError.cause as { name?: string; code?: string } | undefined;
    log.error({ err: { type: cause?.name ?? 'Error', code: cause?.code ?? apiError.code } }, 'request failed');
  }
  return errorAnswer(apiError);
}

/** Writes an {@link HttpAnswer} with a Fastify reply (the body is already serialised). */
export function sendAnswer(reply: FastifyReply, answer: HttpAnswer): FastifyReply {
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendAnswer(reply, failureAnswer(error, request.log));
}

/**
 * What Node's HTTP parser refused, as the contract's answer: 408 `REQUEST_TIMEOUT` (the request
 * did not arrive within `LATCHKEY_REQUEST_TIMEOUT` / `LATCHKEY_HEADERS_TIMEOUT`), 431
 * `HEADERS_TOO_LARGE`, otherwise 400 `VALIDATION_FAILED` (a malformed request line or header,
 * a conflicting length). Nothing of the request is quoted: the parser's error is not shown.
 */
function parserError(error: { code?: string }): ApiError {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new ApiError('REQUEST_TIMEOUT');
  if (error.code === 'HPE_HEADER_OVERFLOW') return new ApiError('HEADERS_TOO_LARGE');
  return new ApiError('VALIDATION_FAILED', 'The request is not valid HTTP.');
}

/** Logs like the request line (logger.ts), without method and path: the parser never got that far, or they are malformed. */
interface ClientErrorLogger {
  info(obj: object, msg?: string): void;
}

/**
 * Fastify's `clientErrorHandler`: the parser's refusals with the contract body and the
 * headers of every error answer, one log line each, and the connection closed. A reset
 * connection gets neither answer nor log line (there is no one to answer).
 */
export function clientErrorHandler(this: { log: ClientErrorLogger }, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const apiError = parserError(error);
  const answer = errorAnswer(apiError);
  this.log.info({ status: answer.status, error: apiError.code, ip: socket.remoteAddress ?? null }, 'request refused');
  if (socket.writable) {
    const body = answer.body ?? '';
    const headers = { ...answer.headers, ...SECURITY_HEADERS, 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
    const head = Object.entries(headers)
      .map(([name, value]) => `${name}: ${String(value)}\r\n`)
      .join('');
    socket.write(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n${head}\r\n${body}`);
  }
  socket.destroy();
}

/**
 * Fastify's `frameworkErrors`: what its router refuses before any route or hook runs (bad
 * percent-encoding, an over-long path parameter). Those replies skip the hooks, so the security
 * headers and the request's log line are added here.
 */
export function frameworkErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  reply.raw.once('finish', () => logRequest(request, reply));
  sendAnswer(reply.headers(SECURITY_HEADERS), failureAnswer(error, request.log));
}

export function notFoundHandler(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendAnswer(reply, errorAnswer(new ApiError('NOT_FOUND')));
}
