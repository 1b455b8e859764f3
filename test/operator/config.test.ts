import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_CONFIG,
  readEnv,
  readFlags,
  resolveConfig,
  usage,
} from '../../src/operator/config.js';

describe('operator configuration', () => {
  it('uses defaults when nothing is set', () => {
    expect(resolveConfig()).toEqual(DEFAULT_CONFIG);
  });

  it('layers ConfigMap < environment < flags', () => {
    const config = resolveConfig(
      {
        name: 'ConfigMap',
        values: { workers: '2', 'runtime-image': 'cm/image:1', 'gpu-resource-name': 'amd.com/gpu' },
      },
      {
        name: 'environment',
        values: readEnv({ TENSORFLEET_WORKERS: '3', TENSORFLEET_RUNTIME_IMAGE: 'env/image:1' }),
      },
      { name: 'flags', values: readFlags(['--workers=8', '--watch-namespaces', 'ml, prod']) },
    );
    expect(config.workers).toBe(8);
    expect(config.runtimeImage).toBe('env/image:1');
    expect(config.gpuResourceName).toBe('amd.com/gpu');
    expect(config.watchNamespaces).toEqual(['ml', 'prod']);
  });

  it('rejects bad values with the source and setting named', () => {
    expect(() => resolveConfig({ name: 'flags', values: { workers: 'many' } })).toThrow(
      /flags: workers="many": expected an integer/,
    );
    expect(() => resolveConfig({ name: 'flags', values: { workers: '0' } })).toThrow(/at least 1/);
    expect(() => resolveConfig({ name: 'ConfigMap', values: { colour: 'blue' } })).toThrow(
      ConfigError,
    );
    expect(() => resolveConfig({ name: 'flags', values: { 'leader-elect': 'maybe' } })).toThrow(
      /true or false/,
    );
    expect(() =>
      resolveConfig({
        name: 'flags',
        values: { 'lease-duration-seconds': '5', 'renew-deadline-seconds': '10' },
      }),
    ).toThrow(/renew-deadline/);
    expect(() => readFlags(['--no-such-flag=1'])).toThrow();
  });

  it.each([
    [['--leader-elect'], { 'leader-elect': 'true' }],
    [['--leader-elect', '--workers=2'], { 'leader-elect': 'true', workers: '2' }],
    [['--leader-elect', 'false'], { 'leader-elect': 'false' }],
    [['--leader-elect=false'], { 'leader-elect': 'false' }],
    [['--real-node', '--local-cluster=auto'], { 'real-node': 'true', 'local-cluster': 'auto' }],
  ])('reads a boolean flag given alone as true: %j', (argv, expected) => {
    expect(readFlags(argv)).toEqual(expected);
  });

  it('documents every flag with its environment variable', () => {
    const text = usage();
    expect(text).toContain('--leader-elect');
    expect(text).toContain('TENSORFLEET_LEADER_ELECT');
    expect(text).toContain('TENSORFLEET_RUNTIME_GPU_IMAGE');
  });
});
