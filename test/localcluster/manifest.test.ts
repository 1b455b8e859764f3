import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import {
  BINARIES,
  BUILD_SCRIPT,
  buildInputsHash,
  cacheDir,
  KWOK_STAGES,
  parseManifest,
} from '../../src/localcluster/manifest.js';

const run = promisify(execFile);

const valid = {
  schema: 1,
  inputs: 'abc',
  versions: { kubernetes: 'v1.35.4' },
  binaries: Object.fromEntries(BINARIES.map((name) => [name, `/bin/${name}`])),
  crds: { 'scaledobjects.keda.sh': '/crd.yaml' },
  prometheusOperatorCrds: '/prometheus-operator-crd',
  kwokStages: Object.fromEntries(KWOK_STAGES.map((name) => [name, `/stage/${name}.yaml`])),
};

describe('cacheDir', () => {
  it('honours TENSORFLEET_CACHE and falls back to ~/.cache/tensorfleet', () => {
    expect(cacheDir({ TENSORFLEET_CACHE: '/srv/cache' })).toBe('/srv/cache');
    expect(cacheDir({ TENSORFLEET_CACHE: '' })).toMatch(/\/\.cache\/tensorfleet$/);
    expect(cacheDir({})).toMatch(/\/\.cache\/tensorfleet$/);
  });
});

describe('parseManifest', () => {
  it('accepts what build.sh writes', () => {
    expect(parseManifest(valid).binaries.kubectl).toBe('/bin/kubectl');
  });

  it('names what is missing', () => {
    expect(() => parseManifest({ ...valid, schema: 2 })).toThrow(/schema 2/);
    const { kwok: _kwok, ...binaries } = valid.binaries;
    expect(() => parseManifest({ ...valid, binaries })).toThrow(/binaries must list/);
    expect(() => parseManifest({ ...valid, kwokStages: {} })).toThrow(/kwokStages must list/);
    const { prometheusOperatorCrds: _crds, ...withoutCrds } = valid;
    expect(() => parseManifest(withoutCrds)).toThrow(/prometheusOperatorCrds/);
    expect(() => parseManifest(null)).toThrow(/not an object/);
  });
});

describe('buildInputsHash', () => {
  it('equals the hash build.sh records, so a stale cache is noticed', async () => {
    for (const env of [{}, { KUBEBUILDER_ASSETS: '/opt/envtest' }]) {
      const { stdout } = await run('bash', [BUILD_SCRIPT, '--print-inputs-hash'], {
        env: { ...process.env, ...env },
      });
      expect(stdout.trim()).toBe(await buildInputsHash({ ...env }));
    }
  });

  it('changes with KUBEBUILDER_ASSETS', async () => {
    expect(await buildInputsHash({})).not.toBe(await buildInputsHash({ KUBEBUILDER_ASSETS: '/x' }));
  });
});
