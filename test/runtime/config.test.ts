// Flags and TENSORFLEET_* environment variables.

import { describe, expect, it } from 'vitest';
import { envName } from '../../src/contract/runtime.js';
import {
  parseFetchConfig,
  parseServeConfig,
  SERVE_OPTIONS,
  usage,
} from '../../src/runtime/config.js';
import { formatFloat32 } from '../../src/runtime/codec/json-values.js';

const base = ['--model-name', 'mnist', '--model-uri', 's3://models/mnist/3/'];

describe('serve config', () => {
  it('has TF Serving-like defaults', () => {
    const c = parseServeConfig(base, {});
    expect(c).toMatchObject({
      modelName: 'mnist',
      modelUri: 's3://models/mnist/3/',
      modelVersion: '1',
      modelFormat: 'auto',
      signature: 'serving_default',
      backend: 'auto',
      port: 8501,
      maxBatchSize: 32,
      batchTimeoutMicros: 2000,
      maxQueueSize: 256,
      warmupIterations: 2,
      drainTimeoutSeconds: 30,
      maxConnectionAgeSeconds: 30,
      injectErrorRate: 0,
      injectLatencyMs: 0,
    });
    expect(c.workers).toBeGreaterThanOrEqual(1);
  });

  it('reads every option from its environment variable; flags win', () => {
    const env = {
      TENSORFLEET_MODEL_NAME: 'from-env',
      TENSORFLEET_MODEL_URI: 'file:///models/x',
      TENSORFLEET_MODEL_VERSION: '7',
      TENSORFLEET_BACKEND: 'wasm',
      TENSORFLEET_PORT: '9000',
      TENSORFLEET_MAX_BATCH_SIZE: '64',
      TENSORFLEET_INJECT_ERROR_RATE: '0.5',
    };
    const c = parseServeConfig(['--port=9100', '--max-batch-size', '16'], env);
    expect(c).toMatchObject({
      modelName: 'from-env',
      modelUri: 'file:///models/x',
      modelVersion: '7',
      backend: 'wasm',
      port: 9100,
      maxBatchSize: 16,
      injectErrorRate: 0.5,
    });
    expect(envName('batch-timeout-micros')).toBe('TENSORFLEET_BATCH_TIMEOUT_MICROS');
  });

  it.each([
    [['--port', 'http'], /--port \("http"\) must be an integer/],
    [['--port', '70000'], /--port \("70000"\) must be <= 65535/],
    [
      ['--backend', 'tpu'],
      /--backend \("tpu"\) must be one of: auto, tensorflow-gpu, tensorflow, wasm, cpu/,
    ],
    [['--max-batch-size', '0'], /--max-batch-size \("0"\) must be >= 1/],
    [['--inject-error-rate', '2'], /--inject-error-rate \("2"\) must be <= 1/],
    [['--bogus', '1'], /unknown flag --bogus/],
    [['--port'], /flag --port needs a value/],
    [['serve'], /unexpected argument "serve"/],
  ])('rejects %j', (extra, message) => {
    expect(() => parseServeConfig([...base, ...extra], {})).toThrow(message);
  });

  it('requires a model name and uri, and a URL-safe name', () => {
    expect(() => parseServeConfig([], {})).toThrow(
      '--model-name (or TENSORFLEET_MODEL_NAME) is required',
    );
    expect(() => parseServeConfig(['--model-name', 'a/b', '--model-uri', 'x'], {})).toThrow(
      /may contain only letters, digits/,
    );
    expect(() => parseServeConfig(base, { TENSORFLEET_WORKERS: 'many' })).toThrow(
      /TENSORFLEET_WORKERS \("many"\) must be an integer/,
    );
  });

  it('documents every flag with its environment variable', () => {
    const text = usage('serve', SERVE_OPTIONS);
    for (const s of SERVE_OPTIONS) {
      expect(text).toContain(`--${s.flag} `);
      expect(text).toContain(envName(s.flag));
    }
    expect(text).toContain('TESTS ONLY');
  });
});

describe('fetch config', () => {
  it('needs a uri and a destination', () => {
    expect(parseFetchConfig(['--model-uri', 'gs://b/m', '--dest', '/models'], {})).toMatchObject({
      modelUri: 'gs://b/m',
      dest: '/models',
      retries: 4,
    });
    expect(() => parseFetchConfig(['--model-uri', 'gs://b/m'], {})).toThrow(
      '--dest (or TENSORFLEET_DEST) is required',
    );
  });
});

describe('float formatting', () => {
  it('prints float32 values as the shortest decimal that reads back the same', () => {
    const f = (v: number): string => formatFloat32(Math.fround(v));
    expect(f(0.1)).toBe('0.1');
    expect(f(2.5)).toBe('2.5');
    expect(f(3)).toBe('3');
    expect(f(1e-7)).toBe('1e-7');
    expect(f(1 / 3)).toBe('0.33333334');
    expect(f(3.4028234663852886e38)).toBe('3.4028235e+38');
    for (const v of [0.1, 1 / 3, 123.456, -7.25e-12, 16777217])
      expect(Math.fround(Number(f(v)))).toBe(Math.fround(v));
  });

  it('takes --model-base-path instead of --model-uri, never both, and one of them', () => {
    const config = parseServeConfig(
      ['--model-name', 'm', '--model-base-path', '/models/m', '--model-version-policy', 'all'],
      {},
    );
    expect(config).toMatchObject({
      modelUri: '/models/m',
      modelBasePath: '/models/m',
      modelVersionPolicy: 'all',
      fileSystemPollWaitSeconds: 1,
    });
    expect(() =>
      parseServeConfig(['--model-name', 'm', '--model-uri', 'x', '--model-base-path', '/b'], {}),
    ).toThrow(/not both/);
    expect(() => parseServeConfig(['--model-name', 'm'], {})).toThrow(
      /--model-uri \(or TENSORFLEET_MODEL_URI\) is required, or --model-base-path/,
    );
    expect(() =>
      parseServeConfig(
        ['--model-name', 'm', '--model-base-path', '/b', '--model-version-policy', 'newest'],
        {},
      ),
    ).toThrow(/--model-version-policy "newest": expected latest:N, all or specific/);
  });
});
