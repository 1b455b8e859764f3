// tensorfleet-runtime: `serve` runs the model server, `tensorflow_model_server`
// runs it from TF Serving's command line, `fetch` downloads a model (the
// operator's init container). Exit codes: 0 ok, 1 runtime failure, 2 usage.

import {
  FETCH_OPTIONS,
  SERVE_OPTIONS,
  parseFetchConfig,
  parseServeConfig,
  usage,
} from './config.js';
import { sizeTensorFlowThreads } from './cpus.js';
import { RuntimeError } from './errors.js';
import type { ServeConfig } from '../contract/runtime.js';
import type { ServerOptions } from './server.js';
import { startServer } from './server.js';
import { fetchModel } from './sources/fetch.js';
import { planTensorflowModelServer } from './tensorflow-model-server.js';
import { parseTensorflowModelServerCommandLine } from './tfserving/command-line.js';
import { TF_SERVING_FLAGS } from './tfserving/flags.js';
import { parseVersionPolicy } from './versions/version-policy.js';
import { RUNTIME_VERSION } from './version.js';

const HELP = `tensorfleet-runtime ${RUNTIME_VERSION}: a TensorFlow.js model server (TF Serving REST + Open Inference Protocol v2)

Commands:
  serve                     load a model and serve it over HTTP and gRPC
  tensorflow_model_server   serve one model's version directories from TF Serving's flags
  fetch                     download a model to a directory (for init containers)
  version                   print the version

Run "tensorfleet-runtime <command> --help" for flags.`;

function fail(err: unknown): never {
  if (err instanceof RuntimeError) {
    process.stderr.write(`tensorfleet-runtime: ${err.code}: ${err.message}\n`);
    process.exit(err.code === 'CONFIG_INVALID' ? 2 : 1);
  }
  process.stderr.write(`tensorfleet-runtime: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}

async function serve(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    process.stdout.write(usage('serve', SERVE_OPTIONS) + '\n');
    return;
  }
  const config = parseServeConfig(argv);
  const base = config.modelBasePath;
  await run(
    config,
    base === undefined
      ? {}
      : {
          versioned: [
            {
              name: config.modelName,
              basePath: base,
              policy: parseVersionPolicy(config.modelVersionPolicy),
              labels: {},
              pollSeconds: config.fileSystemPollWaitSeconds,
            },
          ],
        },
  );
}

/** tensorflow_model_server's flags, each with what Tensorfleet does with it (docs/tfserving-dropin.md). */
function tensorflowModelServerUsage(): string {
  const lines = [...TF_SERVING_FLAGS.values()].map((flag) => {
    const d = flag.disposition;
    const what =
      d.kind === 'supported'
        ? 'supported'
        : d.kind === 'no-effect'
          ? `accepted, no effect: ${d.why}`
          : `refused: ${d.why}`;
    return `  --${flag.name} (${flag.type}): ${what}`;
  });
  return [
    'Usage: tensorfleet-runtime tensorflow_model_server --port=8500 --rest_api_port=8501 --model_name=NAME --model_base_path=PATH [flags]',
    '',
    "TF Serving's flags (docs/tfserving-dropin.md); TENSORFLEET_* variables set what they do not (backend, host, cpus):",
    ...lines,
  ].join('\n');
}

async function tensorflowModelServer(argv: string[]): Promise<void> {
  const parsed = parseTensorflowModelServerCommandLine(argv);
  if (parsed.command === 'help') {
    process.stdout.write(tensorflowModelServerUsage() + '\n');
    return;
  }
  if (parsed.command === 'version') {
    process.stdout.write(`TensorFlow ModelServer: tensorfleet-runtime ${RUNTIME_VERSION}\n`);
    return;
  }
  const plan = planTensorflowModelServer(parsed.config, process.env);
  await run(plan.config, { ...plan.options, notices: [...parsed.config.notices, ...plan.notices] });
}

async function run(config: ServeConfig, options: ServerOptions = {}): Promise<void> {
  // Before any worker loads tfjs-node: its thread pools follow the CPUs this pod may use.
  sizeTensorFlowThreads(config.cpus, process.env);
  const server = await startServer(config, options);
  const onSignal = (signal: NodeJS.Signals): void => {
    server
      .shutdown(signal)
      .then((ok) => process.exit(ok ? 0 : 1))
      .catch(fail);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await server.loaded;
  } catch (err) {
    await server.shutdown('model load failed');
    fail(err);
  }
}

async function fetchCommand(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    process.stdout.write(usage('fetch', FETCH_OPTIONS) + '\n');
    return;
  }
  const config = parseFetchConfig(argv);
  const result = await fetchModel(config.modelUri, config.dest, {
    retries: config.retries,
    stallMs: config.downloadStallSeconds * 1000,
    log: config.logLevel === 'silent' ? () => {} : (msg) => process.stderr.write(`${msg}\n`),
  });
  process.stdout.write(
    `${JSON.stringify({ uri: config.modelUri, dest: result.dir, files: result.files, bytes: result.bytes })}\n`,
  );
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'tensorflow_model_server':
      return tensorflowModelServer(rest);
    case 'fetch':
      return fetchCommand(rest);
    case 'version':
    case '--version':
      process.stdout.write(`${RUNTIME_VERSION}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(HELP + '\n');
      return;
    default:
      process.stderr.write(`tensorfleet-runtime: unknown command "${command}"\n\n${HELP}\n`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch(fail);
