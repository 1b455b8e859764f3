// The README's set-up is two commands on a fresh machine: one runs the
// operator (on an embedded cluster when none is configured), one runs the
// whole suite and sets up what it needs. CI runs that same test command.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${ROOT}README.md`, 'utf8');
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
  scripts: Record<string, string>;
};

/** The commands of the Quickstart's first shell block, comments dropped. */
function quickstart(): string[] {
  const section = readme.slice(readme.indexOf('## Quickstart'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

describe('the README set-up', () => {
  it('is two commands: run the operator, run the suite', () => {
    expect(quickstart()).toEqual(['npm ci && npm start', 'npm test']);
  });

  it('has npm start run the operator with an embedded cluster where none is configured', () => {
    expect(pkg.scripts['start']).toMatch(/node dist\/operator\/main\.js --local-cluster=auto$/);
  });

  it('has npm test set up the native backend and run every tier, lint and format included', () => {
    expect(pkg.scripts['test']).toBe(
      'npm run check && npm run setup:native --silent && vitest run && npm run test:e2e',
    );
    expect(pkg.scripts['check']).toContain('lint');
    expect(pkg.scripts['check']).toContain('format:check');
  });

  it('is what CI runs: .ci/run ends with the README test command', () => {
    const ci = readFileSync(`${ROOT}.ci/run`, 'utf8').trim().split('\n');
    expect(ci.at(-1)).toBe('npm test');
  });
});
