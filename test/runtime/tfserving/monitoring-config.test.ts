// --monitoring_config_file: where the REST port serves Prometheus metrics.

import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/runtime/errors.js';
import {
  TF_SERVING_PROMETHEUS_PATH,
  parseMonitoringConfig,
} from '../../../src/runtime/tfserving/monitoring-config.js';

const SOURCE = '--monitoring_config_file=/config/monitoring.txt';
const parse = (text: string) => parseMonitoringConfig(text, SOURCE);

function errorOf(text: string): string {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('CONFIG_INVALID');
    return (err as RuntimeError).message;
  }
  throw new Error(`no error for ${text}`);
}

describe('MonitoringConfig', () => {
  it("reads serving_config.md's example", () => {
    expect(
      parse(`prometheus_config {
  enable: true,
  path: "/monitoring/prometheus/metrics"
}`),
    ).toBe('/monitoring/prometheus/metrics');
  });

  it("serves at TF Serving's path when none is given, and nowhere unless enabled", () => {
    expect(TF_SERVING_PROMETHEUS_PATH).toBe('/monitoring/prometheus/metrics');
    expect(parse('prometheus_config { enable: true }')).toBe(TF_SERVING_PROMETHEUS_PATH);
    expect(parse('prometheus_config { path: "/metrics" }')).toBeUndefined();
    expect(parse('prometheus_config { enable: false path: "/metrics" }')).toBeUndefined();
    expect(parse('prometheus_config { }')).toBeUndefined();
    expect(parse('')).toBeUndefined();
    expect(parse('prometheus_config { enable: 1 path: "/metrics" }')).toBe('/metrics');
  });

  const refusals: [string, string, string][] = [
    [
      'an unknown field',
      'prometheus { enable: true }',
      'line 1, column 1: MonitoringConfig has no field "prometheus" (its fields: prometheus_config)',
    ],
    [
      'an unknown field of prometheus_config',
      'prometheus_config {\n  enabled: true\n}',
      'line 2, column 3: PrometheusConfig has no field "enabled" (its fields: enable, path)',
    ],
    [
      'a relative path',
      'prometheus_config { enable: true path: "metrics" }',
      'line 1, column 34: PrometheusConfig.path "metrics" must start with "/"',
    ],
    [
      'a path with a space',
      'prometheus_config { enable: true path: "/my metrics" }',
      'PrometheusConfig.path "/my metrics" must start with "/", hold no spaces',
    ],
    [
      'a path of the inference API',
      'prometheus_config { enable: true path: "/v1/models/metrics" }',
      'not be under /v1/ or /v2 (the inference API)',
    ],
    ['the /v2 path', 'prometheus_config { enable: true path: "/v2" }', 'not be under /v1/ or /v2'],
    [
      'enable given twice',
      'prometheus_config { enable: true enable: false }',
      'line 1, column 42: PrometheusConfig.enable is set more than once',
    ],
  ];
  it.each(refusals)('refuses %s', (_name, text, message) => {
    const error = errorOf(text);
    expect(error.startsWith(`${SOURCE} line `)).toBe(true);
    expect(error).toContain(message);
  });
});
