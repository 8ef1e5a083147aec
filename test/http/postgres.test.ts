/**
 * The HTTP contract and rotation races of the standalone server, on PostgreSQL: the same
 * suites as `standalone.test.ts` (SQLite), each target on a fresh schema of its own,
 * dropped when the target closes. Skipped with one notice when PostgreSQL is unreachable,
 * a failure with `LATCHKEY_REQUIRE_SERVICES=1`.
 */
import { runHttpContract } from './contract.js';
import { runRotationRaces } from './races.js';
import { startTestServer, type TestServerOptions } from '../helpers/server.js';
import { describePostgres } from '../helpers/postgres.js';

const startOnPostgres = (options: TestServerOptions = {}) => startTestServer({ postgres: true, ...options });

await describePostgres('standalone server on PostgreSQL', () => {
  runHttpContract('standalone server, PostgreSQL', startOnPostgres);
  runRotationRaces('standalone server, PostgreSQL', startOnPostgres);
});
