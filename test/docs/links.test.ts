/**
 * The repository explains itself: no file cites a document that is not in it, and every link
 * into docs/ — from Markdown or from a code comment — names a file that exists and, with
 * `#anchor`, a heading that exists (code comments link headings such as
 * `docs/http-api.md#refresh-tokens`, so renaming one must fail here).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((path) => path !== '' && existsSync(join(root, path)));

/** Text files only: data files and binaries are not prose. */
function text(path: string): string | undefined {
  if (path.startsWith('data-files/') || path.startsWith('test/vectors/')) return undefined;
  const content = readFileSync(join(root, path));
  return content.includes(0) ? undefined : content.toString('utf8');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, `-1` for repeats. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? undefined : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOfFile(path: string): Set<string> {
  let anchors = anchorCache.get(path);
  if (!anchors) {
    anchors = anchorsOf(readFileSync(join(root, path), 'utf8'));
    anchorCache.set(path, anchors);
  }
  return anchors;
}

/** `undefined` when `target` (a repository path with an optional `#anchor`) resolves. */
function brokenLink(target: string): string | undefined {
  const [path = '', anchor] = target.split('#', 2);
  if (!existsSync(join(root, path))) return `${path} does not exist`;
  if (anchor !== undefined && anchor !== '' && path.endsWith('.md') && !anchorsOfFile(path).has(anchor)) {
    return `${path} has no heading #${anchor}`;
  }
  return undefined;
}

describe('the repository explains itself', () => {
  it('no tracked file cites the external contract document', () => {
    // Built from parts so that this file does not match itself.
    const citation = new RegExp(['CONTRACT', '\\s*§', '|', 'CONTRACT', '\\.md'].join(''), 'i');
    const offenders = tracked.filter((path) => {
      const content = text(path);
      return content !== undefined && citation.test(content);
    });
    expect(offenders).toEqual([]);
  });

  it('every relative Markdown link resolves to a file and heading', () => {
    const broken: string[] = [];
    let links = 0;
    for (const path of tracked.filter((p) => p.endsWith('.md') && !p.startsWith('data-files/'))) {
      const markdown = readFileSync(join(root, path), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // http:, https:, mailto:
        const [file, anchor] = target!.split('#', 2);
        const resolved = file === '' ? path : relative(root, normalize(join(root, dirname(path), file!)));
        const problem = brokenLink(anchor === undefined ? resolved : `${resolved}#${anchor}`);
        if (problem) broken.push(`${path}: (${target}) — ${problem}`);
        links++;
      }
    }
    expect(links).toBeGreaterThan(50);
    expect(broken).toEqual([]);
  });

  it('every docs/… link in source, tests, examples and scripts resolves to a file and heading', () => {
    const broken: string[] = [];
    const self = relative(root, import.meta.filename); // its own examples of broken links below
    const code = tracked.filter((p) => p !== self && /^(src|test|examples|bench|scripts|web)\//.test(p) && /\.(ts|mts|mjs|js|html)$/.test(p));
    expect(code.length).toBeGreaterThan(50);
    for (const path of code) {
      for (const [target] of (text(path) ?? '').matchAll(/\bdocs\/[\w-]+\.md(?:#[\w-]+)?/g)) {
        const problem = brokenLink(target);
        if (problem) broken.push(`${path}: ${target} — ${problem}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the anchor rule matches GitHub on the headings these docs use', () => {
    expect([...anchorsOf('## Rotation and the grace window\n## `requireAuth(options)`\n## Passwords (NIST SP 800-63B)\n## A\n## A')]).toEqual([
      'rotation-and-the-grace-window',
      'requireauthoptions',
      'passwords-nist-sp-800-63b',
      'a',
      'a-1',
    ]);
    // A link to a heading that does not exist is caught.
    expect(brokenLink('docs/http-api.md#no-such-heading')).toMatch(/no heading/);
    expect(brokenLink('docs/no-such-file.md')).toMatch(/does not exist/);
    expect(brokenLink('docs/http-api.md#refresh-tokens')).toBeUndefined();
  });
});
