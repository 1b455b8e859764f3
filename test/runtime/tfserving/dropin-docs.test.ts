// docs/tfserving-dropin.md stays in step with flags.ts: one row per TF Serving
// flag, saying what the code does with it.

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { TF_SERVING_FLAGS } from '../../../src/runtime/tfserving/flags.js';

const doc = await readFile(new URL('../../../docs/tfserving-dropin.md', import.meta.url), 'utf8');

/** The flag table's rows, by flag name. */
const rows = new Map(
  doc
    .split('\n')
    .map((line) => /^\| `--([a-z0-9_]+)` +\|.*\| (.*) \|$/.exec(line))
    .filter((m) => m !== null)
    .map((m) => [m[1] as string, m[2] as string]),
);

const WORDING = {
  supported: /^supported/,
  'no-effect': /^accepted, no effect: /,
  refused: /^refused( unless [^:]+)?: /,
} as const;

describe('docs/tfserving-dropin.md', () => {
  it('has one row per flag of tensorflow_model_server, in main.cc order', () => {
    expect([...rows.keys()]).toEqual([...TF_SERVING_FLAGS.keys()]);
  });

  it.each([...TF_SERVING_FLAGS.values()])('says what --$name does', (flag) => {
    expect(rows.get(flag.name)).toMatch(WORDING[flag.disposition.kind]);
  });
});
