/**
 * The origin's one DPoP key, kept in IndexedDB: generated non-extractable on first use, so
 * page scripts can sign with it but nobody — not even this code — can read the private key.
 * Every tab of the origin uses the same key (a refresh cookie bound to it works in all of
 * them), and it survives reloads. Two tabs starting at once may both generate a key; the
 * first `add` wins and the other tab takes the winner's.
 */
import { type DpopKey, generateDpopKeyPair, toDpopKey } from './dpop-proof.js';

/** Where the key lives (one database and record per origin). */
const DPOP_DATABASE = 'latchkey-dpop';
const STORE = 'keys';
const RECORD = 'default';

function settle<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openDatabase(): Promise<IDBDatabase> {
  const request = indexedDB.open(DPOP_DATABASE, 1);
  request.onupgradeneeded = () => request.result.createObjectStore(STORE);
  return settle(request);
}

function read(db: IDBDatabase): Promise<CryptoKeyPair | undefined> {
  return settle(db.transaction(STORE).objectStore(STORE).get(RECORD)) as Promise<CryptoKeyPair | undefined>;
}

/** Loads the origin's key, creating it if there is none. Rejects when IndexedDB is unavailable. */
export async function loadDpopKey(): Promise<DpopKey> {
  const db = await openDatabase();
  try {
    const stored = await read(db);
    if (stored) return await toDpopKey(stored);
    const pair = await generateDpopKeyPair();
    try {
      await settle(db.transaction(STORE, 'readwrite').objectStore(STORE).add(pair, RECORD));
      return await toDpopKey(pair);
    } catch (error) {
      // Another tab stored its key first: use that one.
      const winner = await read(db);
      if (winner) return await toDpopKey(winner);
      throw error;
    }
  } finally {
    db.close();
  }
}
