// hf://<org>/<repo>[@<revision>]/<path>: every well-formed location reads
// back to itself, and any other text is refused with CONFIG_INVALID and a
// message naming the part that is wrong (fast-check over both).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/runtime/errors.js';
import type { HfLocation } from '../../src/runtime/sources/hf-uri.js';
import { formatHfUri, parseHfUri } from '../../src/runtime/sources/hf-uri.js';

const alnum = fc.constantFrom(...'abcXYZ019_'.split(''));
const inner = fc.constantFrom(...'abcXYZ019_.-'.split(''));
/** A Hub name: alphanumeric or "_" at both ends, no "--" or "..". */
const hubName = fc
  .tuple(alnum, fc.array(inner, { maxLength: 20 }), alnum)
  .map(([a, mid, z]) => `${a}${mid.join('')}${z}`)
  .filter((n) => !n.includes('--') && !n.includes('..'));
const segment = fc
  .stringMatching(/^[A-Za-z0-9_ .@%+=-]{1,12}$/)
  .filter((s) => s !== '.' && s !== '..');
const path = fc.array(segment, { maxLength: 4 }).map((s) => s.join('/'));
const branchPart = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,10}[A-Za-z0-9_-]$/);
const revision = fc.oneof(
  fc.constant('main'),
  branchPart.filter((b) => !b.includes('..') && !b.endsWith('.lock')),
  fc
    .tuple(branchPart, branchPart)
    .map(([a, b]) => `${a}/${b}`)
    .filter((r) => !r.includes('..')),
  fc.stringMatching(/^[0-9a-f]{40}$/),
  fc.nat(999).map((n) => `refs/pr/${n}`),
  fc.constantFrom('refs/convert/parquet', 'refs/convert/duckdb'),
);
const location = fc.record<HfLocation>({
  repo: fc.tuple(hubName, hubName).map(([o, r]) => `${o}/${r}`),
  revision,
  path,
});

function refusal(uri: string): string {
  try {
    parseHfUri(uri);
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('CONFIG_INVALID');
    return (err as Error).message;
  }
  throw new Error(`${uri} was accepted`);
}

describe('hf:// URIs', () => {
  it('read back every location they write', () => {
    fc.assert(
      fc.property(location, (loc) => {
        expect(parseHfUri(formatHfUri(loc))).toEqual(loc);
      }),
      { numRuns: 500 },
    );
  });

  it('read the written forms', () => {
    expect(parseHfUri('hf://acme/mnist')).toEqual({
      repo: 'acme/mnist',
      revision: 'main',
      path: '',
    });
    expect(parseHfUri('hf://acme/mnist/')).toEqual({
      repo: 'acme/mnist',
      revision: 'main',
      path: '',
    });
    expect(parseHfUri('hf://acme/mnist@v2/tfjs/')).toEqual({
      repo: 'acme/mnist',
      revision: 'v2',
      path: 'tfjs',
    });
    expect(parseHfUri('hf://acme/mnist@feature%2Fnew/a/b')).toEqual({
      repo: 'acme/mnist',
      revision: 'feature/new',
      path: 'a/b',
    });
    expect(parseHfUri('hf://acme/mnist@refs/pr/12/tfjs')).toEqual({
      repo: 'acme/mnist',
      revision: 'refs/pr/12',
      path: 'tfjs',
    });
    // "@" after the repository's "/" belongs to the path.
    expect(parseHfUri('hf://acme/mnist/a@b')).toEqual({
      repo: 'acme/mnist',
      revision: 'main',
      path: 'a@b',
    });
  });

  it('refuse malformed URIs, naming what is wrong', () => {
    const cases: [string, string][] = [
      ['hf://', 'the organization (or user) is missing'],
      ['hf://acme', 'the repository is missing'],
      ['hf://acme/', 'the repository is missing'],
      ['hf:///mnist', 'the organization (or user) is missing'],
      ['hf://acme/-mnist', 'repository "-mnist" is not a Hub name'],
      ['hf://acme/mn--ist', 'repository "mn--ist" is not a Hub name'],
      ['hf://ac me/mnist', 'organization (or user) "ac me" is not a Hub name'],
      [`hf://acme/${'m'.repeat(97)}`, `repository "${'m'.repeat(97)}" is not a Hub name`],
      ['hf://acme/mnist@', 'the revision after "@" is empty'],
      ['hf://acme/mnist@/tfjs', 'the revision after "@" is empty'],
      ['hf://acme/mnist@a..b/x', 'holds ".." or "//"'],
      ['hf://acme/mnist@a%ZZ/x', 'has a broken %-escape'],
      ['hf://acme/mnist@a%20b/x', 'holds a character git refs cannot'],
      ['hf://acme/mnist@x.lock/m', 'ends with ".lock"'],
      ['hf://acme/mnist@refs/pr/1x', 'expected "/" after the revision'],
      ['hf://acme/mnist/a/../b', 'has an empty, "." or ".." segment'],
      ['hf://acme/mnist/a//b', 'has an empty, "." or ".." segment'],
      ['hf://acme/mnist/a\\b', 'holds a control character or "\\"'],
      ['s3://acme/mnist', 'does not start with hf://'],
    ];
    for (const [uri, why] of cases) {
      const message = refusal(uri);
      expect(message, uri).toContain(`invalid model URI "${uri}": `);
      expect(message, uri).toContain(why);
      expect(message).toContain('(hf://<org>/<repo>[@<revision>]/<path>)');
    }
  });

  it('refuse anything else with CONFIG_INVALID, never a crash, and accept only sound locations', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (tail) => {
        const uri = `hf://${tail}`;
        let loc: HfLocation;
        try {
          loc = parseHfUri(uri);
        } catch (err) {
          expect((err as RuntimeError).code).toBe('CONFIG_INVALID');
          expect((err as Error).message).toContain(`invalid model URI "${uri}"`);
          return;
        }
        expect(loc.repo).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\/[A-Za-z0-9_][A-Za-z0-9_.-]*$/);
        expect(loc.path.split('/').filter((s) => s === '..' || s === '.')).toEqual([]);
        expect(loc.path).not.toMatch(/^\/|\/$/);
      }),
      { numRuns: 2000 },
    );
  });
});
