// docs/runtime.md stays in step with the code: every flag, environment
// variable, error code and metric (the quality metrics too) is documented.

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { envName } from '../../src/contract/runtime.js';
import { FETCH_OPTIONS, SERVE_OPTIONS } from '../../src/runtime/config.js';
import { ERROR_CODES } from '../../src/runtime/errors.js';
import { RuntimeMetrics } from '../../src/runtime/metrics.js';
import { QUALITY_METRICS, QualityMetrics } from '../../src/runtime/quality/quality-metrics.js';

const doc = await readFile(new URL('../../docs/runtime.md', import.meta.url), 'utf8');

describe('docs/runtime.md', () => {
  it('documents every flag with its environment variable', () => {
    for (const s of [...SERVE_OPTIONS, ...FETCH_OPTIONS]) {
      expect(doc, s.flag).toContain(`\`--${s.flag}\``);
      expect(doc, s.flag).toContain(`\`${envName(s.flag)}\``);
    }
  });

  it('documents every error code', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(doc, code).toContain(`\`${code}\``);
  });

  it('documents every tensorfleet_runtime_* metric', async () => {
    const metrics = new RuntimeMetrics('m', '1', { processMetrics: false });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThanOrEqual(13);
    for (const name of names) expect(doc, name).toContain(`\`${name}\``);
  });

  it('documents every tensorfleet_model_* (quality) metric', async () => {
    const metrics = new RuntimeMetrics('m', '1', { processMetrics: false });
    new QualityMetrics({
      registry: metrics.registry,
      model: 'm',
      version: '1',
      window: 10,
      logEntries: () => 0,
    });
    const names = (await metrics.registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((n) => n.startsWith('tensorfleet_model_'));
    expect(names.sort()).toEqual(Object.values(QUALITY_METRICS).sort());
    for (const name of names) expect(doc, name).toContain(`\`${name}\``);
  });
});
