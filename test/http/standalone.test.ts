import { runHttpContract } from './contract.js';
import { runRotationRaces } from './races.js';
import { startTestServer } from '../helpers/server.js';

runHttpContract('standalone server, SQLite', (options) => startTestServer(options));
runRotationRaces('standalone server, SQLite', (options) => startTestServer(options));
