// src/operator/status/reasons.ts is the one list of the reasons the operator
// writes: the README's table is exactly it, the docs and the Argo CD health
// check's sample statuses name only reasons from it, and the code sets every
// reason through its constants.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Reason } from '../../../src/operator/status/reasons.js';
import { REASON, REASONS } from '../../../src/operator/status/reasons.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');
const filesUnder = (dir: string, ending: string): string[] =>
  readdirSync(`${ROOT}${dir}`, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ending))
    .map((f) => `${dir}/${f}`);

const entries = Object.entries(REASONS) as [Reason, (typeof REASONS)[Reason]][];
const isReason = (name: string): name is Reason => Object.hasOwn(REASONS, name);

/** The table as the README should show it: reason, where it shows, meaning. */
const expectedRows = entries.map(([reason, e]) => [`\`${reason}\``, e.on.join(', '), e.meaning]);

/** The rows of the README's table that follows its reasons-table comment. */
function readmeRows(): string[][] {
  const readme = read('README.md');
  const after = readme.slice(readme.indexOf('<!-- The reasons table:'));
  const table = /\n(\|.*\n)+/.exec(after)?.[0] ?? '';
  return table
    .trim()
    .split('\n')
    .slice(2) // the header and its rule
    .map((row) =>
      row
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
}

/** Asserts that what `pattern` captures in the files is a reason of the table, and that it finds some. */
function expectAllReasons(files: string[], pattern: RegExp): void {
  const named = files.flatMap((file) =>
    [...read(file).matchAll(pattern)].map((m) => ({ file, name: m[1]! })),
  );
  expect(named.length).toBeGreaterThan(0);
  for (const { file, name } of named) expect(isReason(name), `${file}: ${name}`).toBe(true);
}

describe('the reasons table', () => {
  it('is the README list of reasons, row for row', () => {
    const markdown = [
      '| Reason | Shows on | Meaning |',
      '| --- | --- | --- |',
      ...expectedRows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    expect(
      readmeRows(),
      `the README's table should read (then npx prettier --write README.md):\n${markdown}`,
    ).toEqual(expectedRows);
  });

  it('has the constants name themselves', () => {
    for (const [reason] of entries) expect(REASON[reason]).toBe(reason);
    expect(Object.keys(REASON)).toEqual(Object.keys(REASONS));
  });

  it('holds every reason the docs name after "reason" or "Event"', () => {
    const docs = ['README.md', ...filesUnder('docs', '.md')];
    expectAllReasons(docs, /\b(?:reason|Event)\s+`([A-Za-z]+)`/g);
  });

  it('holds every Stalled reason docs/gitops.md lists, as a Stalled reason', () => {
    const row = read('docs/gitops.md')
      .split('\n')
      .find((l) => l.startsWith('| `Stalled`'));
    const names = [...(row ?? '').matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!).slice(1);
    expect(names.length).toBeGreaterThan(2);
    for (const name of names) {
      expect(isReason(name), name).toBe(true);
      expect(REASONS[name as Reason].on, name).toContain('Stalled');
    }
  });

  it("holds every reason in the Argo CD health check's sample statuses", () => {
    expectAllReasons(filesUnder('deploy/argocd', '.yaml'), /^\s*reason: ([A-Za-z]+)$/gm);
  });
});

describe('the operator code', () => {
  const sources = filesUnder('src/operator', '.ts').filter((f) => !f.endsWith('/reasons.ts'));
  const code = sources.map((f) => [f, read(f)] as const);

  // A reason is one CamelCase word; free text (a history entry's reason) is not one.
  it('sets no reason from a string of its own', () => {
    for (const [file, text] of code) {
      expect(text, file).not.toMatch(/\breason:\s*'[A-Z]/);
      expect(text, file).not.toMatch(/\.emit\(\s*[^,]+,\s*'(?:Normal|Warning)',\s*'/);
    }
  });

  it('sets every reason of the table but those passed through from a Deployment', () => {
    const used = new Set(
      code.flatMap(([, text]) => [...text.matchAll(/\bREASON\.(\w+)/g)].map((m) => m[1]!)),
    );
    // The Deployment's ReplicaFailure reason is written as it comes (status/compute.ts).
    const passedThrough = new Set(['FailedDelete']);
    expect([...used].filter((r) => !isReason(r))).toEqual([]);
    expect(entries.map(([r]) => r).filter((r) => !used.has(r) && !passedThrough.has(r))).toEqual(
      [],
    );
  });
});
