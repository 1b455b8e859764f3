import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/cli/options.js';
import {
  DEFAULT_CONFIG,
  OPERATOR_OPTIONS,
  resolveConfig,
  usage,
} from '../../src/operator/config.js';

describe('operator configuration', () => {
  it('uses defaults when nothing is set', () => {
    expect(resolveConfig([], {})).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG).toMatchObject({ workers: 4, leaderElect: false, watchNamespaces: [] });
  });

  it('layers ConfigMap < environment < flags', () => {
    const config = resolveConfig(
      ['--workers=8', '--watch-namespaces', 'ml, prod'],
      { TENSORFLEET_WORKERS: '3', TENSORFLEET_RUNTIME_IMAGE: 'env/image:1' },
      {
        name: 'ops/tensorfleet',
        data: { workers: '2', 'runtime-image': 'cm/image:1', 'gpu-resource-name': 'amd.com/gpu' },
      },
    );
    expect(config.workers).toBe(8);
    expect(config.runtimeImage).toBe('env/image:1');
    expect(config.gpuResourceName).toBe('amd.com/gpu');
    expect(config.watchNamespaces).toEqual(['ml', 'prod']);
  });

  it('rejects bad values with the source and setting named', () => {
    expect(() => resolveConfig(['--workers', 'many'], {})).toThrow(
      '--workers ("many") must be an integer',
    );
    expect(() => resolveConfig([], { TENSORFLEET_WORKERS: '0' })).toThrow(
      'TENSORFLEET_WORKERS ("0") must be >= 1',
    );
    expect(() => resolveConfig([], {}, { name: 'ops/cm', data: { colour: 'blue' } })).toThrow(
      new ConfigError('ConfigMap ops/cm: colour: unknown setting'),
    );
    expect(() => resolveConfig(['--leader-elect=maybe'], {})).toThrow(/must be true or false/);
    expect(() =>
      resolveConfig(['--lease-duration-seconds=5', '--renew-deadline-seconds=10'], {}),
    ).toThrow(/--renew-deadline-seconds must be shorter/);
    expect(() => resolveConfig(['--http-address=8080'], {})).toThrow(/must be host:port/);
    expect(() => resolveConfig(['--no-such-flag=1'], {})).toThrow('unknown flag --no-such-flag');
  });

  it.each([
    [['--leader-elect'], { leaderElect: true }],
    [['--leader-elect', '--workers=2'], { leaderElect: true, workers: 2 }],
    [['--leader-elect', 'false'], { leaderElect: false }],
    [['--leader-elect=false'], { leaderElect: false }],
    [['--real-node', '--local-cluster=auto'], { realNode: true, localCluster: 'auto' }],
  ])('reads a boolean flag given alone as true: %j', (argv, expected) => {
    expect(resolveConfig(argv, {})).toMatchObject(expected);
  });

  it('documents every flag with its environment variable and default', () => {
    const text = usage();
    for (const o of OPERATOR_OPTIONS) expect(text).toContain(`--${o.flag} <`);
    expect(text).toContain('TENSORFLEET_LEADER_ELECT (default false)');
    expect(text).toContain(
      'TENSORFLEET_RUNTIME_GPU_IMAGE (default ghcr.io/tensorfleet/runtime-gpu:',
    );
  });
});
