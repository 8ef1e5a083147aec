/**
 * Cross-site request check for the cookie endpoints (docs/http-api.md#cross-site-requests):
 * a browser request from a foreign `Origin`, or one marked `Sec-Fetch-Site: cross-site`, is refused. Requests
 * without `Origin` come from non-browser clients and pass.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from '../errors.js';

export function assertSameSite(headers: IncomingHttpHeaders, allowedOrigins: readonly string[]): void {
  if (String(headers['sec-fetch-site'] ?? '').toLowerCase() === 'cross-site') throw new ApiError('CSRF_REJECTED');
  const origin = headers.origin;
  if (origin !== undefined && !allowedOrigins.includes(origin)) throw new ApiError('CSRF_REJECTED');
}
