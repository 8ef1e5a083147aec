/** The README's configuration table names every variable the configuration reads. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../src/config/config.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const table = readme.split('\n').filter((line) => line.startsWith('| `'));

describe('README configuration table', () => {
  it.each(Object.values(CONFIG_VARIABLES))('has a row for %s', (variable) => {
    expect(table.some((line) => line.split('|')[1]!.includes(`\`${variable}\``))).toBe(true);
  });
});
