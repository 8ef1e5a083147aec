/**
 * Translation of errors into the contract's `{error, message}` answers — the single
 * place where a code becomes an HTTP status. Nothing here decides policy.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ERROR_CODES, LatchkeyError, type ErrorCode } from '../errors.js';
import { RateLimitedError } from '../auth/rate-limit.js';

/** Fastify's own error codes that are the client's fault, and the contract code for each. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
};

/** Bearer failures carry an RFC 6750 challenge (docs/http-api.md#bearer-failures). */
const BEARER_CODES = new Set<ErrorCode>(['INVALID_TOKEN', 'TOKEN_EXPIRED', 'SESSION_REVOKED']);

export function bearerChallenge(code: ErrorCode | 'MISSING_TOKEN'): string {
  if (code === 'MISSING_TOKEN') return 'Bearer realm="latchkey"';
  return `Bearer realm="latchkey", error="invalid_token", error_description="${ERROR_CODES[code].message}"`;
}

export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.code === 'MISSING_TOKEN' || BEARER_CODES.has(error.code)) {
    reply.header('www-authenticate', bearerChallenge(error.code));
  }
  if (error instanceof RateLimitedError) reply.header('retry-after', String(error.retryAfter));
  const body: Record<string, unknown> = { error: error.code, message: error.message };
  if (error.details) Object.assign(body, error.details);
  return reply.code(error.status).type('application/json; charset=utf-8').send(body);
}

/** Maps any thrown error to an {@link ApiError}; unknown errors become `INTERNAL`. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof LatchkeyError && error.code === 'UNAVAILABLE') return new ApiError('UNAVAILABLE', undefined, { cause: error });
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) {
    const first = fastifyError.validation[0];
    const field = first?.instancePath?.replace(/^\//, '') || (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
    return new ApiError('VALIDATION_FAILED', field ? `Invalid or missing field: ${field}.` : undefined);
  }
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return new ApiError(mapped);
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    if (fastifyError.statusCode === 413) return new ApiError('PAYLOAD_TOO_LARGE');
    if (fastifyError.statusCode === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE');
    return new ApiError('VALIDATION_FAILED');
  }
  return new ApiError('INTERNAL', undefined, { cause: error });
}

export function errorHandler(this: FastifyInstance, error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const apiError = toApiError(error);
  if (apiError.status >= 500) {
    // Log the cause's type and code, never its message: driver errors may quote parameters.
    const cause = apiError.cause as { name?: string; code?: string } | undefined;
    request.log.error({ err: { type: cause?.name ?? 'Error', code: cause?.code ?? apiError.code } }, 'request failed');
  }
  return sendApiError(reply, apiError);
}

export function notFoundHandler(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendApiError(reply, new ApiError('NOT_FOUND'));
}
