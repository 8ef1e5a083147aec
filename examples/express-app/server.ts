/**
 * `npm run example:express` — the Express example on PORT (default 3000), configured like
 * `latchkey serve` by the LATCHKEY_* environment (SQLite in ./data by default).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLatchkey } from '../../src/latchkey.js'; // 'latchkey'
import { loadConfig } from '../../src/config/config.js';
import { createApp } from './app.js';

// Listen first: without LATCHKEY_ISSUER the issuer and allowed origins follow the port served
// (docs/http-api.md#issuer-and-origins-without-configuration), and with PORT=0 the OS picks it.
const { port: wanted, host } = loadConfig(process.env);
const server = createServer();
await new Promise<void>((resolve) => server.listen(wanted, host, resolve));
const { port } = server.address() as AddressInfo;
const latchkey = await createLatchkey(loadConfig({ ...process.env, PORT: String(port) }));
server.on('request', createApp(latchkey));
console.log(`express-app listening on http://${host}:${port}`);

async function stop(): Promise<void> {
  server.close();
  server.closeIdleConnections();
  await latchkey.close();
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
