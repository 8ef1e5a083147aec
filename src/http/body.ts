/**
 * Request bodies: JSON only, UTF-8 only, at most 16 KiB (docs/http-api.md#request-bodies).
 * Registered per encapsulation context, so the auth routes behave the same when mounted
 * into someone else's Fastify app.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

export const BODY_LIMIT = 16_384;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return match?.[1]?.toLowerCase();
}

export function parseJsonBody(request: FastifyRequest, raw: Buffer): unknown {
  const charset = charsetOf(request.headers['content-type']);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw new ApiError('UNSUPPORTED_MEDIA_TYPE');
  if (raw.length === 0) return undefined;
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new ApiError('VALIDATION_FAILED', 'The request body is not valid UTF-8.');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError('VALIDATION_FAILED', 'The request body is not valid JSON.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError('VALIDATION_FAILED', 'The request body must be a JSON object.');
  }
  return value;
}

/** Replaces every body parser of `instance` by the strict JSON one. */
export function useJsonBodies(instance: FastifyInstance): void {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (request, raw, done) => {
    try {
      done(null, parseJsonBody(request, raw as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
