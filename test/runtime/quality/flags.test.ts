// The quality flags as the runtime parses them: defaults, a bare
// --quality-tracking, the environment, and refusals naming the flag.

import { describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../../src/runtime/config.js';
import { qualityOn } from '../../../src/runtime/quality/target.js';

const base = ['--model-name', 'm', '--model-uri', '/models/m'];

describe('the quality flags', () => {
  it('default to tracking off, the first output, auto kind, a window of 1000', () => {
    const config = parseServeConfig(base, {});
    expect(config).toMatchObject({
      qualityTracking: false,
      qualityKind: 'auto',
      qualityWindow: 1000,
      qualityLogMaxEntries: 100_000,
      qualityLogMaxValues: 4_000_000,
      qualityLogTtlSeconds: 3600,
    });
    expect(config.qualityOutput).toBeUndefined();
    expect(qualityOn(config)).toBe(false);
  });

  it('turn tracking on with a bare flag, the environment, or by naming the output', () => {
    expect(parseServeConfig([...base, '--quality-tracking'], {}).qualityTracking).toBe(true);
    expect(parseServeConfig(base, { TENSORFLEET_QUALITY_TRACKING: 'true' }).qualityTracking).toBe(
      true,
    );
    expect(qualityOn(parseServeConfig([...base, '--quality-output', 'scores'], {}))).toBe(true);
    expect(qualityOn(parseServeConfig([...base, '--quality-kind=regression'], {}))).toBe(true);
  });

  it('refuse values they cannot take, naming the flag', () => {
    expect(() => parseServeConfig([...base, '--quality-kind', 'ranking'], {})).toThrow(
      '--quality-kind ("ranking") must be one of: auto, classification, regression',
    );
    expect(() => parseServeConfig([...base, '--quality-window', '0'], {})).toThrow(
      '--quality-window ("0") must be >= 1',
    );
    expect(() =>
      parseServeConfig(base, { TENSORFLEET_QUALITY_LOG_TTL_SECONDS: 'forever' }),
    ).toThrow('TENSORFLEET_QUALITY_LOG_TTL_SECONDS ("forever") must be a number');
  });
});
