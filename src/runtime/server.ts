// The runtime process: the served models (served-models.ts: one fixed
// version, or for each model the versions its base path's policy selects,
// model-versions.ts), the HTTP app (http/app.ts) and the gRPC server
// (grpc/server.ts) over them; logger, listening, model loading, and the
// graceful drain on SIGTERM of both.

import { writeFile } from 'node:fs/promises';
import { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildApp } from './http/app.js';
import type { ServeConfig } from '../contract/runtime.js';
import { TERMINATION_LOG } from '../contract/runtime.js';
import { Connections } from './http/connections.js';
import { GrpcServer } from './grpc/server.js';
import { RuntimeMetrics } from './metrics.js';
import { RequestBodies } from './request-bodies.js';
import { ModelService } from './service.js';
import { ServedModel } from './model-versions.js';
import { ServedModels } from './served-models.js';
import type { RuntimeLogger } from './logger.js';
import { resolveModelDir } from './sources/fetch.js';
import type { VersionPolicy } from './versions/version-policy.js';
import { versionUri } from './versions/base-path.js';
import { watchVersions } from './versions/version-watcher.js';
import type { ModelChanges } from './model-config-reload.js';
import { ModelConfigReloader } from './model-config-reload.js';

/** A model served from the versions found under a base path (instead of config.modelUri alone). */
export interface VersionedModel {
  /** The name served (/v1/models/{name}). */
  name: string;
  /** Holds <base>/<version>/ directories. */
  basePath: string;
  policy: VersionPolicy;
  /** Label -> version. */
  labels: Readonly<Record<string, number>>;
  /** Seconds between listings; 0 lists once. */
  pollSeconds: number;
  /** Retries of a version whose load failed, and the wait before each (default: none). */
  loadRetries?: { max: number; intervalMs: number };
}

export interface ServerOptions {
  /**
   * Models whose base paths' versions are followed (serve --model-base-path,
   * tensorflow_model_server), each with config's other settings; default:
   * config.modelName from config.modelUri at config.modelVersion.
   */
  versioned?: readonly VersionedModel[];
  /** false: no HTTP listener (tensorflow_model_server without --rest_api_port). Default true. */
  rest?: boolean;
  /** Another path /metrics is served on (tensorflow_model_server's monitoring config). */
  prometheusPath?: string | undefined;
  /** gRPC Predict answers in tensor_content (--enable_serialization_as_tensor_content). */
  grpcPredictTensorContent?: boolean;
  /**
   * Reads the models anew every `everySeconds` and applies what changed
   * (tensorflow_model_server's --model_config_file_poll_wait_seconds;
   * model-config-reload.ts). Only with `versioned`.
   */
  reloadModels?: {
    everySeconds: number;
    read: () => Promise<readonly VersionedModel[]>;
    /** Names what is read, in log lines. */
    source: string;
  };
  /** Startup notices (settings accepted without effect), one log line each. */
  notices?: readonly string[];
}

export interface RunningServer {
  app: FastifyInstance;
  /** The served models and their versions. */
  models: ServedModels;
  /** The port actually bound (useful with --port 0); 0 without REST. */
  port: number;
  /** The gRPC port actually bound; undefined with --grpc-port -1. */
  grpcPort: number | undefined;
  /**
   * Resolves when the model is loaded and warmed up; rejects when loading
   * fails. Following a base path: once a version is available (never rejects:
   * a version that fails to load is logged, the base path is watched on).
   */
  loaded: Promise<void>;
  /** Drains and stops; resolves true when every accepted request finished in time. */
  shutdown(reason: string): Promise<boolean>;
}

/** Best effort: Kubernetes shows this file's content as the container's termination message. */
async function terminationMessage(text: string): Promise<void> {
  try {
    // r+ writes only when Kubernetes has mounted the file; it never creates one elsewhere.
    await writeFile(TERMINATION_LOG, text, { flag: 'r+' });
  } catch {
    // not in Kubernetes, or not writable: the log has the message too
  }
}

/**
 * While draining, a connection that stays idle this long is closed: a client
 * that sends steadily sends again within it and is told to close instead.
 */
const DRAIN_IDLE_CLOSE_MS = 2000;

/**
 * The drain is over once no connection has been open or opened for this
 * long: the Service has stopped sending traffic here (connections.ts).
 */
const DRAIN_QUIET_MS = 1000;

/** Once the drain is over, how long closing may take to flush the answers still being written. */
const CLOSE_GRACE_MS = 1000;

export async function startServer(
  config: ServeConfig,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const versioned = options.versioned ?? [];
  const first = versioned[0];
  // Following versions, each model's own series (version "") count requests no version answered.
  const metrics = new RuntimeMetrics(
    first?.name ?? config.modelName,
    first === undefined ? config.modelVersion : '',
  );
  // The one owner of request-body memory, shared by the app, the services and the workers' pools.
  const bodies = new RequestBodies();
  // The services log through the app's logger, which exists only once the app is built.
  const logRef: { current?: FastifyBaseLogger } = {};
  const logger: RuntimeLogger = {
    info: (obj, msg) => logRef.current?.info(obj, msg),
    warn: (obj, msg) => logRef.current?.warn(obj, msg),
    error: (obj, msg) => logRef.current?.error(obj, msg),
  };
  const makeService = (serviceConfig: ServeConfig, serviceMetrics: RuntimeMetrics): ModelService =>
    new ModelService({
      config: serviceConfig,
      metrics: serviceMetrics,
      bodies,
      logger,
      resolveModelDir: (uri, progress) =>
        resolveModelDir(uri, config.modelCacheDir, {
          log: (msg) => logRef.current?.info(msg),
          stallMs: config.downloadStallSeconds * 1000,
          onProgress: ({ bytes, files, of }) => {
            progress(`downloading: ${bytes} bytes so far, ${files} of ${of} files done`);
          },
        }),
    });
  /** A model whose base path's versions are followed (not started: see follow()). */
  const openVersioned = (model: VersionedModel, modelMetrics: RuntimeMetrics): ServedModel => {
    const modelConfig = { ...config, modelName: model.name, modelUri: model.basePath };
    return ServedModel.followed({
      name: model.name,
      config: modelConfig,
      metrics: modelMetrics,
      labels: model.labels,
      logger,
      ...(model.loadRetries === undefined ? {} : { loadRetries: model.loadRetries }),
      // Each version: its own directory, cache entry, pool, batcher and metric series.
      makeService: (version) =>
        makeService(
          {
            ...modelConfig,
            modelUri: versionUri(model.basePath, version),
            modelVersion: String(version),
          },
          modelMetrics.forVersion(String(version)),
        ),
    });
  };
  const fixed = first === undefined ? makeService(config, metrics) : undefined;
  const models = new ServedModels(
    fixed !== undefined
      ? [ServedModel.fixed(fixed)]
      : versioned.map((model, i) =>
          openVersioned(model, i === 0 ? metrics : metrics.forModel(model.name)),
        ),
  );
  metrics.reportVersionStates(() => models.versionStates());
  const app = await buildApp(
    { models, metrics, bodies, prometheusPath: options.prometheusPath },
    {
      logger: { level: config.logLevel },
      // When the drain is over, idle keep-alive sockets left are closed; busy ones finish
      // their request first (and a request arriving on one meanwhile is still served).
      forceCloseConnections: 'idle',
      // Per-request access logs cost the HTTP thread more than routing does: only at debug/trace.
      logController: new LogController({
        disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace',
      }),
      keepAliveTimeout: 65_000,
      requestTimeout: config.requestTimeoutMs + 30_000,
    },
  );
  logRef.current = app.log;
  for (const notice of options.notices ?? []) app.log.info({ notice: true }, notice);
  const connections = new Connections(app.server, config.maxConnectionAgeSeconds * 1000);
  // Listen before loading so liveness answers while a large model loads; readiness stays false.
  const rest = options.rest ?? true;
  if (rest) await app.listen({ host: config.host, port: config.port });
  else await app.ready();
  const address = rest ? app.server.address() : null;
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const grpc =
    config.grpcPort < 0
      ? undefined
      : await GrpcServer.start({
          models,
          predictEncoding: options.grpcPredictTensorContent === true ? 'content' : 'typed',
          config,
          host: config.host,
          port: config.grpcPort,
          bodies,
        });
  if (grpc !== undefined) app.log.info({ port: grpc.port }, `gRPC listening on port ${grpc.port}`);

  const failed = async (err: unknown): Promise<never> => {
    const e = err as Error & { code?: string };
    app.log.error({ err }, `model failed to load: ${e.message}`);
    await terminationMessage(`${e.code ?? 'MODEL_LOAD_FAILED'}: ${e.message}`);
    throw err;
  };
  const watch = (model: VersionedModel) =>
    watchVersions(model.basePath, { policy: model.policy, pollSeconds: model.pollSeconds });
  const stopped = (name: string) => (err: unknown) => {
    app.log.error({ err }, `following the versions of ${name} stopped`);
  };
  /** Starts following a model's base path. */
  const follow = (model: VersionedModel): void => {
    app.log.info(
      { basePath: model.basePath, policy: model.policy, pollSeconds: model.pollSeconds },
      `serving model ${model.name} from the versions under ${model.basePath}`,
    );
    models.model(model.name).follow(watch(model)).catch(stopped(model.name));
  };
  /** A reloaded config file's changes, applied to the models served. */
  const applyChanges = (changes: ModelChanges): void => {
    for (const name of changes.remove) {
      app.log.info({ model: name }, `model ${name} removed: unloading once its requests finish`);
      models.remove(name).catch((err: unknown) => {
        app.log.error({ err }, `unloading model ${name} failed`);
      });
    }
    for (const model of changes.add) {
      models.add(openVersioned(model, metrics.forModel(model.name)));
      follow(model);
    }
    for (const model of changes.refollow) {
      app.log.info(
        { policy: model.policy, pollSeconds: model.pollSeconds },
        `model ${model.name}: following its versions with the new policy`,
      );
      models.model(model.name).refollow(watch(model)).catch(stopped(model.name));
    }
    for (const model of changes.relabel) models.model(model.name).setLabels(model.labels);
  };

  let loaded: Promise<void>;
  let reloader: ModelConfigReloader | undefined;
  if (fixed !== undefined) {
    loaded = fixed.start().then(() => undefined, failed);
  } else {
    for (const model of versioned) follow(model);
    loaded = models.loaded;
    const reload = options.reloadModels;
    if (reload !== undefined) {
      reloader = new ModelConfigReloader({
        everySeconds: reload.everySeconds,
        read: reload.read,
        apply: applyChanges,
        initial: versioned,
        source: reload.source,
        logger,
        registry: metrics.registry,
      });
      reloader.start();
    }
  }

  let shuttingDown: Promise<boolean> | undefined;
  const shutdown = (reason: string): Promise<boolean> => {
    shuttingDown ??= (async () => {
      const timeoutMs = config.drainTimeoutSeconds * 1000;
      app.log.info(
        { reason, timeoutMs, inflight: models.inflight },
        'draining: readiness is false, serving until traffic stops',
      );
      const started = performance.now();
      // The models served no longer change.
      await reloader?.stop();
      // Readiness is false from here on. Requests go on being served, each
      // told to close its connection, until traffic stops arriving
      // (connections.ts).
      models.startDraining();
      connections.startDraining();
      // gRPC clients are sent away every DRAIN_IDLE_CLOSE_MS instead (GOAWAY; grpc/server.ts).
      let sentAway = -Infinity;
      const quietNow = (): boolean =>
        connections.quietMs() >= DRAIN_QUIET_MS && (grpc?.quietMs() ?? Infinity) >= DRAIN_QUIET_MS;
      while (performance.now() - started < timeoutMs) {
        connections.closeIdle(DRAIN_IDLE_CLOSE_MS);
        if (grpc !== undefined && performance.now() - sentAway >= DRAIN_IDLE_CLOSE_MS) {
          grpc.goAway(config.requestTimeoutMs);
          sentAway = performance.now();
        }
        if (quietNow()) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const quiet = quietNow();
      const drained = await models.drain(Math.max(0, timeoutMs - (performance.now() - started)));
      // From here every request is answered 503 DRAINING (after a timeout, those
      // still arriving too), and closing the server only flushes those answers.
      await models.close();
      let timer: NodeJS.Timeout | undefined;
      const left = (): number =>
        Math.max(CLOSE_GRACE_MS, timeoutMs - (performance.now() - started));
      const closed = await Promise.race([
        Promise.all([app.close(), grpc?.close(left())]).then(
          ([, grpcClosed]) => grpcClosed ?? true,
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), left());
        }),
      ]);
      clearTimeout(timer);
      const ok = quiet && closed && drained;
      app.log.info(
        { ok, seconds: (performance.now() - started) / 1000 },
        ok ? 'drained' : 'drain timed out',
      );
      return ok;
    })();
    return shuttingDown;
  };

  return { app, models, port, grpcPort: grpc?.port, loaded, shutdown };
}
