// `npm run bench`: runs the benchmarks and prints a Markdown report.
// Usage: npm run bench -- [--only runtime|operator|autoscaling|realnode|images|sources] [--models mlp,cnn] [--backends auto|tensorflow,wasm,cpu]
//                         [--seconds 5] [--concurrency 1,16,64] [--serve-flag=--workers=2 ...] [--out file.md]

import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { BackendName } from '../src/runtime/backends/select.js';
import { AUTO_ORDER } from '../src/runtime/backends/select.js';
import { backendTable } from './runtime/backends-table.js';
import { runRuntimeBench, summarize } from './runtime/index.js';
import * as operatorBench from './operator/index.js';
import * as autoscalingBench from './autoscaling/index.js';
import * as realNodeBench from './realnode/index.js';
import * as imagesBench from './images/index.js';
import * as sourcesBench from './sources/index.js';

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i === -1) return undefined;
  const a = argv[i] as string;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}

function args(name: string): string[] {
  const argv = process.argv.slice(2);
  return argv.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const benches: Record<string, () => Promise<string>> = {
  runtime: async () => {
    const backends = arg('backends') ?? 'auto';
    const reports = await runRuntimeBench({
      models: (arg('models') ?? 'mlp,cnn').split(',') as ('mlp' | 'cnn')[],
      backends: backends === 'auto' ? [...AUTO_ORDER] : (backends.split(',') as BackendName[]),
      seconds: Number(arg('seconds') ?? 5),
      concurrencies: (arg('concurrency') ?? '1,16,64').split(',').map(Number),
      serveFlags: args('serve-flag').flatMap((f) => f.split('=')),
      log,
    });
    return `## Runtime\n\n${backendTable(reports)}\n\n${summarize(reports)}`;
  },
  // Env: BENCH_MODELS (500), BENCH_IDLE_SECONDS (60), BENCH_SERVICE_MONITOR_CRD, BENCH_KEEP.
  operator: async () => {
    const report = await operatorBench.runOperatorBench({
      ...operatorBench.optionsFromEnv(process.env),
      log,
    });
    return `## Operator\n\n${operatorBench.summarize(report)}`;
  },
  // Env: BENCH_AUTOSCALING_SECONDS (300).
  autoscaling: async () => {
    const report = await autoscalingBench.runAutoscalingBench({
      seconds: Number(process.env['BENCH_AUTOSCALING_SECONDS'] ?? 300),
      log,
    });
    return `## Autoscaling\n\n${autoscalingBench.summarize(report)}`;
  },
  // Root on Linux. Env: BENCH_REQUESTS (20000), BENCH_CONCURRENCY (16), BENCH_IMAGES_COLD (0).
  realnode: async () => {
    const report = await realNodeBench.runRealNodeBench({
      requests: Number(process.env['BENCH_REQUESTS'] ?? 20_000),
      concurrency: Number(process.env['BENCH_CONCURRENCY'] ?? 16),
      imagesCold: process.env['BENCH_IMAGES_COLD'] === '1',
      log,
    });
    return `## Real node\n\n${realNodeBench.summarize(report)}`;
  },
  // The model sources' cloud SDKs: image bytes and import time.
  sources: async () => {
    const report = await sourcesBench.runSourcesBench(log);
    return `## Model sources' SDKs\n\n${sourcesBench.summarize(report)}`;
  },
  // Root on Linux, after npm run images. Env: BENCH_IMAGES_GPU_COLD (1).
  images: async () => {
    const report = await imagesBench.runImagesBench({
      cold: process.env['BENCH_IMAGES_GPU_COLD'] !== '0',
      log,
    });
    return `## Images\n\n${imagesBench.summarize(report)}`;
  },
};

const only = arg('only');
const header = `# Tensorfleet benchmarks\n\n${new Date().toISOString()}, Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}\n`;
const sections: string[] = [header];
const failed: string[] = [];
for (const [name, run] of Object.entries(benches)) {
  if (only !== undefined && only !== name) continue;
  // One bench failing must not lose the others' results.
  try {
    sections.push(await run());
  } catch (err) {
    failed.push(name);
    sections.push(`## ${name}\n\nFAILED: ${(err as Error).stack ?? String(err)}\n`);
  }
}
const report = sections.join('\n');
log(`\n${report}`);
const out = arg('out');
if (out !== undefined) await writeFile(out, report);
if (failed.length > 0) {
  process.stderr.write(`benchmarks failed: ${failed.join(', ')}\n`);
  process.exitCode = 1;
}
