/**
 * One table of event types (docs/events.md): it lists exactly `EVENT_TYPES`, and every event type
 * the code writes is one of them (read from the sources: each audit event literal
 * `{ type: '…', at … }` / `{ type: '…', ip … }`, the admin writes' `event('…')`, and the multi-line
 * `type: '…',` literals of audit calls).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/auth/events.js';

const root = new URL('../../', import.meta.url).pathname;
const doc = readFileSync(join(root, 'docs/events.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Event types written by the code: audit inputs in src/auth, src/keys and the store's own writes. */
function writtenTypes(): Set<string> {
  const found = new Set<string>();
  const files = [...sources(join(root, 'src/auth')), ...sources(join(root, 'src/keys')), join(root, 'src/store/admin.ts')];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const [, type] of text.matchAll(/\btype: '([a-z_]+)',\s*(?:at|ip)\b/g)) found.add(type!);
    for (const [, type] of text.matchAll(/^\s+type: '([a-z_]+)',$/gm)) found.add(type!);
    for (const [, type] of text.matchAll(/\bevent\('([a-z_]+)'/g)) found.add(type!);
  }
  return found;
}

describe('docs/events.md', () => {
  const rows = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);

  it('lists exactly EVENT_TYPES, in its order', () => {
    expect(rows).toEqual([...EVENT_TYPES]);
  });

  it('every event type the code writes is in the table, and every listed one is written somewhere', () => {
    const written = writtenTypes();
    expect([...written].filter((t) => !(EVENT_TYPES as readonly string[]).includes(t))).toEqual([]);
    expect(EVENT_TYPES.filter((t) => !written.has(t))).toEqual([]);
  });
});
