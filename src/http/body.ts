/**
 * Request bodies: JSON only, UTF-8 only, at most 16 KiB (docs/http-api.md#request-bodies).
 * {@link parseJsonBody} is the one parser; the Fastify edge feeds it through Fastify's
 * content-type machinery ({@link useJsonBodies}, per encapsulation context, so the auth routes
 * behave the same when mounted into someone else's Fastify app), other edges read the body
 * with {@link readJsonBody}, which follows the same rules in the same order.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';

export const BODY_LIMIT = 16_384;

/** Methods whose requests may carry a body (the others never have one parsed). */
const BODY_METHODS: ReadonlySet<string> = new Set(['DELETE', 'OPTIONS', 'PATCH', 'PUT', 'POST']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return match?.[1]?.toLowerCase();
}

/** Parses a JSON request body sent with `contentType`; throws the contract's 400 / 415. */
function parseJsonBody(contentType: string | undefined, raw: Buffer): unknown {
  const charset = charsetOf(contentType);
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
      done(null, parseJsonBody(request.headers['content-type'], raw as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

/**
 * Reads and parses the body of a Node request the way the Fastify edge does: none for
 * body-less methods or an empty body without `Content-Type`; 415 for any type but
 * `application/json`; 413 above {@link BODY_LIMIT} (declared or streamed); 400 when fewer or
 * more bytes arrive than `Content-Length` announced; then {@link parseJsonBody}.
 */
export async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  if (!BODY_METHODS.has(request.method ?? '')) return undefined;
  const { headers } = request;
  const contentType = headers['content-type'];
  if (contentType === undefined) {
    const length = headers['content-length'];
    if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return undefined;
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE');
  }
  if (contentType.split(';', 1)[0]!.trim().toLowerCase() !== 'application/json') throw new ApiError('UNSUPPORTED_MEDIA_TYPE');
  const declared = Number(headers['content-length']);
  if (declared > BODY_LIMIT) throw new ApiError('PAYLOAD_TOO_LARGE');
  const raw = await readAtMost(request, BODY_LIMIT);
  if (!Number.isNaN(declared) && raw.length !== declared) throw new ApiError('VALIDATION_FAILED');
  return parseJsonBody(contentType, raw);
}

/** The whole body, or 413 as soon as it grows past `limit` (the rest is then discarded unread). */
function readAtMost(stream: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = () => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        stop();
        reject(new ApiError('PAYLOAD_TOO_LARGE'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, received));
    };
    const onError = () => {
      stop();
      reject(new ApiError('VALIDATION_FAILED', 'The request body could not be read.'));
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}
