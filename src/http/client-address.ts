/**
 * Who the client is, as far as the HTTP edge can tell: the peer address, or the
 * `X-Forwarded-For` entry that `LATCHKEY_TRUST_PROXY` says to believe (docs/security.md,
 * "Client address"). Rate limits, audit rows, sessions and the request log all use
 * {@link clientAddress}, so they always agree.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
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

/** `candidate` if it is an IP address of at most 45 characters; otherwise (junk, a port suffix, 15 KB of header) the socket peer. */
function believable(candidate: string | undefined, socket: Socket | undefined): string | null {
  if (typeof candidate === 'string' && candidate.length <= MAX_ADDRESS_LENGTH && isIP(candidate) !== 0) return candidate;
  return socket?.remoteAddress ?? null;
}

/** The client's address: what Fastify derived under `trustProxy` (see {@link trustProxyOption}), if believable. */
export function clientAddress(request: FastifyRequest): string | null {
  return believable(request.ip, request.socket);
}

/**
 * The same rules for a plain Node request (the Express router, which runs no Fastify): the
 * setting compiled once, the returned function gives the address of one request.
 */
export function nodeClientAddress(setting: LatchkeyConfig['trustProxy']): (request: IncomingMessage) => string | null {
  const trust = trustProxyOption(setting);
  if (trust === false) return (request) => believable(request.socket.remoteAddress, request.socket);
  const believe = trust === true ? () => true : trust;
  return (request) => {
    const addresses = proxyAddr.all(request, believe);
    return believable(addresses[addresses.length - 1], request.socket);
  };
}
