import { runHttpContract } from './contract.js';
import { runRotationRaces } from './races.js';
import { startTestServer } from '../helpers/server.js';
import { expressHost } from '../adapters/hosts.js';

runHttpContract('Express-mounted router, SQLite', (options) => startTestServer({ ...options, buildApp: (latchkey) => expressHost(latchkey) }));
runRotationRaces('Express-mounted router, SQLite', (options) => startTestServer({ ...options, buildApp: (latchkey) => expressHost(latchkey) }));
