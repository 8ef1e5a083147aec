/**
 * Prometheus metrics (`GET /metrics`). One registry per server, so that several servers in
 * one process (tests, embedding) never collide. With `LATCHKEY_METRICS_TOKEN` the route asks
 * for that bearer token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Latchkey } from '../latchkey.js';
import type { WebhookWorker } from '../webhooks/worker.js';
import { ApiError } from '../errors.js';
import { extractBearerToken } from './bearer.js';
import { errorAnswer, sendAnswer } from './errors.js';

const EVENT_COUNTERS: Record<string, { name: string; result?: string }> = {
  login_success: { name: 'logins', result: 'success' },
  login_failure: { name: 'logins', result: 'failure' },
  refresh: { name: 'refreshes', result: 'success' },
  refresh_reuse_detected: { name: 'reuse' },
};

/**
 * The check of `LATCHKEY_METRICS_TOKEN` (docs/security.md, "What is exposed"): `undefined` when
 * the request may read the metrics, else the code of the 401. The presented and the configured
 * token are compared as SHA-256 digests with `timingSafeEqual`: the time taken says nothing about
 * how much of a guess was right, or how long the token is.
 */
function metricsAuthorization(token: string | undefined): (authorization: string | undefined) => 'MISSING_TOKEN' | 'INVALID_TOKEN' | undefined {
  if (token === undefined) return () => undefined;
  const expected = createHash('sha256').update(token).digest();
  return (authorization) => {
    const presented = extractBearerToken({ authorization });
    if (presented === undefined) return 'MISSING_TOKEN';
    return timingSafeEqual(createHash('sha256').update(presented).digest(), expected) ? undefined : 'INVALID_TOKEN';
  };
}

export interface MetricsOptions {
  /** Also collect process metrics (CPU, memory, event-loop lag). Default false. */
  processMetrics?: boolean;
}

/** Webhook attempts by this instance, and the outbox by state (read from the store at each scrape). */
function installWebhookMetrics(app: FastifyInstance, latchkey: Latchkey, worker: WebhookWorker, registry: Registry): void {
  const attempts = new Counter({
    name: 'latchkey_webhook_attempts_total',
    help: 'Webhook delivery attempts by this instance, by outcome (delivered, retry, dead)',
    labelNames: ['result'],
    registers: [registry],
  });
  new Gauge({
    name: 'latchkey_webhook_deliveries',
    help: 'Webhook deliveries in the outbox by state (pending, delivering, delivered, dead)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      // The database is down: the gauge is left out of this scrape rather than failing /metrics.
      const counts = await latchkey.store.webhookCounts().catch(() => undefined);
      this.reset();
      if (counts) for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  const unsubscribe = worker.onResult((result) => attempts.inc({ result }));
  app.addHook('onClose', async () => unsubscribe());
}

export function installMetrics(app: FastifyInstance, latchkey: Latchkey, options: MetricsOptions = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  const logins = new Counter({ name: 'latchkey_logins_total', help: 'Login attempts by result', labelNames: ['result'], registers: [registry] });
  const refreshes = new Counter({
    name: 'latchkey_refreshes_total',
    help: 'Successful refresh-token rotations',
    labelNames: ['result'],
    registers: [registry],
  });
  const reuse = new Counter({
    name: 'latchkey_refresh_reuse_detected_total',
    help: 'Refresh-token reuse detections (session revoked)',
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'latchkey_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const counters = { logins, refreshes, reuse };

  const unsubscribe = latchkey.onEvent((event) => {
    const mapping = EVENT_COUNTERS[event.type];
    if (!mapping) return;
    const counter = counters[mapping.name as keyof typeof counters];
    if (mapping.result) (counter as Counter<'result'>).inc({ result: mapping.result });
    else (counter as Counter).inc();
  });
  app.addHook('onClose', async () => unsubscribe());
  if (latchkey.webhooks) installWebhookMetrics(app, latchkey, latchkey.webhooks, registry);
  app.addHook('onResponse', async (request, reply) => {
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  const authorized = metricsAuthorization(latchkey.config.metricsToken);
  app.get('/metrics', async (request, reply) => {
    const refused = authorized(request.headers.authorization);
    if (refused) return sendAnswer(reply, errorAnswer(new ApiError(refused)));
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  return registry;
}
