import { runHttpContract } from './contract.js';
import { startTestServer } from '../helpers/server.js';

runHttpContract('standalone server, SQLite', (options) => startTestServer(options));
