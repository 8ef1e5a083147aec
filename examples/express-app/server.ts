/**
 * `npm run example:express` — the Express example on PORT (default 3000), configured like
 * `latchkey serve` by the LATCHKEY_* environment (SQLite in ./data by default).
 */
import type { AddressInfo } from 'node:net';
import { createLatchkey } from '../../src/latchkey.js'; // 'latchkey'
import { loadConfig } from '../../src/config/config.js';
import { createApp } from './app.js';

const config = loadConfig(process.env);
const latchkey = await createLatchkey(config);
const app = createApp(latchkey);

const server = app.listen(config.port, config.host, () => {
  const { port } = server.address() as AddressInfo;
  console.log(`express-app listening on http://${config.host}:${port}`);
});

async function stop(): Promise<void> {
  server.close();
  server.closeIdleConnections();
  await latchkey.close();
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
