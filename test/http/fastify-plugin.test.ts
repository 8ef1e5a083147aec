import { runHttpContract } from './contract.js';
import { runRotationRaces } from './races.js';
import { startTestServer } from '../helpers/server.js';
import { fastifyHost } from '../adapters/hosts.js';

runHttpContract('Fastify plugin in a host app, SQLite', (options) => startTestServer({ ...options, buildApp: (latchkey) => fastifyHost(latchkey) }));
runRotationRaces('Fastify plugin in a host app, SQLite', (options) => startTestServer({ ...options, buildApp: (latchkey) => fastifyHost(latchkey) }));
