/**
 * Every runtime dependency we name supports the Node versions `engines` promises: a
 * dependency that declares a higher floor (cookie 2 declares Node ≥ 22) breaks installs with
 * `engine-strict` and may use APIs Node 20 lacks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

type Version = [number, number, number];
const parse = (v: string): Version => {
  const [major = 0, minor = 0, patch = 0] = v
    .replace(/^v/, '')
    .split('.')
    .map((n) => (n === 'x' || n === '*' ? 0 : Number(n)));
  return [major, minor, patch];
};
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Whether `version` satisfies a range of the forms npm packages use for `engines.node`. */
function satisfies(version: Version, range: string): boolean {
  return range.split('||').some((alternative) => {
    const comparators = alternative
      .trim()
      .replace(/(>=|<=|>|<|\^|~)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean);
    return comparators.every((c) => {
      if (c === '*' || c === 'x') return true;
      const m = /^(>=|<=|>|<|\^|~)?(.+)$/.exec(c);
      if (!m) throw new Error(`unparsed range ${range}`);
      const [, op = '', v = ''] = m;
      const bound = parse(v);
      const d = compare(version, bound);
      if (op === '>=') return d >= 0;
      if (op === '>') return d > 0;
      if (op === '<=') return d <= 0;
      if (op === '<') return d < 0;
      if (op === '^') return version[0] === bound[0] && d >= 0;
      if (op === '~') return version[0] === bound[0] && version[1] === bound[1] && d >= 0;
      // A bare version: `20.x` matches the major, `20.11` the minor.
      const parts = v.split('.');
      return parts.every((p, i) => p === 'x' || p === '*' || Number(p) === version[i]);
    });
  });
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; dependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version: string; engines?: { node?: string } }>;
};

describe('engines', () => {
  it('the range parser reads the forms dependencies use', () => {
    expect(satisfies([20, 11, 0], '>=22')).toBe(false);
    expect(satisfies([20, 11, 0], '>= 18')).toBe(true);
    expect(satisfies([20, 11, 0], '20.x || 22.x')).toBe(true);
    expect(satisfies([20, 11, 0], '^16 || ^18 || >=20')).toBe(true);
    expect(satisfies([20, 11, 0], '>=20.19')).toBe(false);
  });

  it('every direct runtime dependency accepts the oldest Node that package.json engines allows', () => {
    const floor = parse(pkg.engines.node.replace(/^>=\s*/, ''));
    const refusing = Object.keys(pkg.dependencies).flatMap((name) => {
      const installed = lock.packages[`node_modules/${name}`];
      const range = installed?.engines?.node;
      return range && !satisfies(floor, range) ? [`${name}@${installed.version} needs node ${range}`] : [];
    });
    expect(refusing).toEqual([]);
  });
});
