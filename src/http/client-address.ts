/**
 * Who the client is, as far as the HTTP edge can tell: the peer address, or the
 * `X-Forwarded-For` entry that `LATCHKEY_TRUST_PROXY` says to believe (docs/security.md,
 * "Client address"). Rate limits, audit rows, sessions and the request log all use
 * {@link clientAddress}, so they always agree.
 */
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import proxyAddr from 'proxy-addr';
import type { LatchkeyConfig } from '../config/config.js';

/** The longest textual IP address (an IPv4-mapped IPv6 address: 45 characters). */
const MAX_ADDRESS_LENGTH = 45;

/**
 * Fastify's `trustProxy` option for the setting. A hop count becomes a function: Fastify 5
 * treats a bare number as "trust nothing", where the documented meaning (Express's, and
 * proxy-addr's) is "the n hops nearest the server are proxies".
 */
export function trustProxyOption(setting: LatchkeyConfig['trustProxy']): boolean | ((address: string, hop: number) => boolean) {
  if (typeof setting === 'boolean') return setting;
  if (typeof setting === 'number') return setting > 0 ? (_address, hop) => hop < setting : false;
  return proxyAddr.compile(setting);
}

/**
 * The client's address: what Fastify derived under `trustProxy`, if it is an IP address of
 * at most 45 characters; otherwise (junk, a port suffix, 15 KB of header) the socket peer.
 */
export function clientAddress(request: FastifyRequest): string | null {
  const candidate = request.ip;
  if (typeof candidate === 'string' && candidate.length <= MAX_ADDRESS_LENGTH && isIP(candidate) !== 0) return candidate;
  return request.socket?.remoteAddress ?? null;
}
