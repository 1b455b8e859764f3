// oci:// references, how a registry is reached, registry credentials and
// challenges: the pure pieces of the oci:// source.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RuntimeError } from '../../../src/runtime/errors.js';
import { credentialsFor, parseChallenge } from '../../../src/runtime/sources/oci-auth.js';
import { parseOciUri, registryBaseUrl } from '../../../src/runtime/sources/oci-reference.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tensorfleet-oci-ref-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('parseOciUri', () => {
  const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/);
  const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,20}$/);
  const digest = fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}`);

  it('reads back every valid reference', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('ghcr.io', '127.0.0.1:5000', 'localhost', 'registry.example.com:443'),
        fc.array(component, { minLength: 1, maxLength: 3 }),
        fc.option(tag, { nil: undefined }),
        fc.option(digest, { nil: undefined }),
        (registry, path, t, d) => {
          fc.pre(t !== undefined || d !== undefined);
          const repository = path.join('/');
          const uri = `oci://${registry}/${repository}${t ? `:${t}` : ''}${d ? `@${d}` : ''}`;
          expect(parseOciUri(uri)).toEqual({ registry, repository, tag: t, digest: d });
        },
      ),
    );
  });

  it('fails anything else with CONFIG_INVALID naming the URI, never a crash', () => {
    fc.assert(
      fc.property(fc.string(), (rest) => {
        try {
          parseOciUri(`oci://${rest}`);
        } catch (err) {
          expect(err).toBeInstanceOf(RuntimeError);
          expect((err as RuntimeError).code).toBe('CONFIG_INVALID');
          expect((err as RuntimeError).message).toContain(`"oci://${rest}"`);
        }
      }),
    );
  });
});

describe('registryBaseUrl', () => {
  it('uses https, except for loopback and listed registries', () => {
    const env = { TENSORFLEET_OCI_INSECURE_REGISTRIES: 'registry.lan, 10.0.0.5:5000' };
    expect(registryBaseUrl('ghcr.io', env)).toBe('https://ghcr.io');
    expect(registryBaseUrl('127.0.0.1:5000', {})).toBe('http://127.0.0.1:5000');
    expect(registryBaseUrl('localhost', {})).toBe('http://localhost');
    expect(registryBaseUrl('[::1]:5000', {})).toBe('http://[::1]:5000');
    expect(registryBaseUrl('registry.lan:8080', env)).toBe('http://registry.lan:8080');
    expect(registryBaseUrl('10.0.0.5:5000', env)).toBe('http://10.0.0.5:5000');
    expect(registryBaseUrl('10.0.0.5:6000', env)).toBe('https://10.0.0.5:6000');
    expect(registryBaseUrl('docker.io', {})).toBe('https://registry-1.docker.io');
  });
});

describe('registry credentials', () => {
  it('reads auths.<registry> from a docker config.json, and says what is wrong with a broken one', async () => {
    const file = join(work, 'config.json');
    const auth = Buffer.from('robot:pa:ss').toString('base64');
    await writeFile(
      file,
      JSON.stringify({
        auths: { 'https://ghcr.io': { auth }, 'https://index.docker.io/v1/': { auth } },
      }),
    );
    const env = { TENSORFLEET_OCI_AUTH_FILE: file };
    expect(credentialsFor('ghcr.io', env)).toEqual({
      username: 'robot',
      password: 'pa:ss',
      from: file,
    });
    expect(credentialsFor('docker.io', env)?.username).toBe('robot');
    expect(credentialsFor('quay.io', env)).toBeUndefined();
    expect(credentialsFor('ghcr.io', {})).toBeUndefined();

    await writeFile(file, '{"auths":{"ghcr.io":{"auth":"bm9jb2xvbg=="}}}');
    expect(() => credentialsFor('ghcr.io', env)).toThrow(
      `registry credentials ${file}: auths["ghcr.io"].auth is not base64 of user:password`,
    );
    await writeFile(file, 'not json');
    expect(() => credentialsFor('ghcr.io', env)).toThrow(`registry credentials ${file}: not JSON`);
    expect(() =>
      credentialsFor('ghcr.io', { TENSORFLEET_OCI_AUTH_FILE: join(work, 'none') }),
    ).toThrow('ENOENT');
  });

  it('parses Bearer and Basic challenges', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'registry.example',
        scope: 'repository:a/b:pull,push',
      },
    });
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({
      scheme: 'basic',
      params: { realm: 'Registry Realm' },
    });
    expect(parseChallenge(null)).toBeUndefined();
  });
});
