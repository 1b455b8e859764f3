// tensorfleet-runtime: `serve` runs the model server, `fetch` downloads a model
// (the operator's init container). Exit codes: 0 ok, 1 runtime failure, 2 usage.

import {
  FETCH_OPTIONS,
  SERVE_OPTIONS,
  parseFetchConfig,
  parseServeConfig,
  usage,
} from './config.js';
import { sizeTensorFlowThreads } from './cpus.js';
import { RuntimeError } from './errors.js';
import { startServer } from './server.js';
import { fetchModel } from './sources/fetch.js';
import { RUNTIME_VERSION } from './version.js';

const HELP = `tensorfleet-runtime ${RUNTIME_VERSION}: a TensorFlow.js model server (TF Serving REST + Open Inference Protocol v2)

Commands:
  serve     load a model and serve it over HTTP
  fetch     download a model to a directory (for init containers)
  version   print the version

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
  // Before any worker loads tfjs-node: its thread pools follow the CPUs this pod may use.
  sizeTensorFlowThreads(config.cpus, process.env);
  const server = await startServer(config);
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
