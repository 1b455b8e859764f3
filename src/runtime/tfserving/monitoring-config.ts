// TF Serving's --monitoring_config_file: a MonitoringConfig
// (tensorflow_serving/config/monitoring_config.proto) in text format. Its one
// setting, prometheus_config { enable path }, says whether and where the REST
// port serves Prometheus metrics.

import { parseTextFormat } from './text-format.js';
import { TextMessageReader } from './text-message-reader.js';

/** TF Serving's PrometheusExporter::kPrometheusPath, used when path is empty. */
export const TF_SERVING_PROMETHEUS_PATH = '/monitoring/prometheus/metrics';

/** The REST API's own paths (/v1/..., /v2, /v2/...), which a metrics path may not shadow. */
const API_PATH = /^\/v[12](\/|$)/;

/**
 * The path Prometheus metrics are served at on the REST port, or undefined
 * when the file does not enable them. Throws
 * RuntimeError('CONFIG_INVALID', '<source> line L, column C: ...').
 */
export function parseMonitoringConfig(text: string, source: string): string | undefined {
  const root = new TextMessageReader(parseTextFormat(text, source), source, 'MonitoringConfig', {
    prometheus_config: 'supported',
  });
  const message = root.message('prometheus_config');
  if (message === undefined) return undefined;
  const prometheus = new TextMessageReader(message, source, 'PrometheusConfig', {
    enable: 'supported',
    path: 'supported',
  });
  const path = prometheus.string('path') ?? '';
  if (prometheus.bool('enable') !== true) return undefined;
  if (path === '') return TF_SERVING_PROMETHEUS_PATH;
  if (!/^\/[!-~]*$/.test(path) || API_PATH.test(path)) {
    throw prometheus.error(
      prometheus.positionOf('path'),
      `PrometheusConfig.path ${JSON.stringify(path)} must start with "/", hold no spaces, and not be under /v1/ or /v2 (the inference API)`,
    );
  }
  return path;
}
