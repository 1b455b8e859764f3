// The runtime's gRPC server: TF Serving's PredictionService and ModelService,
// the Open Inference Protocol's GRPCInferenceService, grpc.health.v1.Health
// and server reflection, on one port beside REST's, over the same model
// service. The message size limit is --max-body-bytes (grpc-js answers larger
// messages RESOURCE_EXHAUSTED); connections are aged out like REST's
// keep-alive connections so that clients spread again over the pods.

import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ChannelOptions, ServiceDefinition } from '@grpc/grpc-js';
import type { ServeConfig } from '../../contract/runtime.js';
import type { RuntimeMetrics } from '../metrics.js';
import type { ModelService } from '../service.js';
import { Activity } from './calls.js';
import type { CallContext } from './calls.js';
import { HealthService } from './health.js';
import { inferenceService } from './inference-service.js';
import { SERVICE_NAMES, packageDefinition } from './protos.js';
import { addReflection } from './reflection.js';
import { modelService, predictionService } from './tfserving-service.js';

export interface GrpcServerOptions {
  service: ModelService;
  metrics: RuntimeMetrics;
  config: Pick<ServeConfig, 'maxBodyBytes' | 'maxConnectionAgeSeconds' | 'requestTimeoutMs'>;
  host: string;
  /** 0: any free port (GrpcServer.port says which). */
  port: number;
}

function definition(name: string): ServiceDefinition {
  // proto-loader's service entries are grpc-js service definitions.
  return packageDefinition()[name] as ServiceDefinition;
}

function channelOptions(config: GrpcServerOptions['config']): ChannelOptions {
  const options: ChannelOptions = {
    'grpc.max_receive_message_length': config.maxBodyBytes,
    'grpc.max_send_message_length': -1,
  };
  if (config.maxConnectionAgeSeconds > 0) {
    options['grpc.max_connection_age_ms'] = config.maxConnectionAgeSeconds * 1000;
    // Calls still running when the age is reached may finish within their deadline.
    options['grpc.max_connection_age_grace_ms'] = config.requestTimeoutMs;
  }
  return options;
}

export class GrpcServer {
  readonly port: number;
  private readonly server: Server;
  private readonly activity: Activity;
  private readonly health: HealthService;

  /** The bound address as grpc-js names it (drain() takes that). */
  private readonly address: string;

  private constructor(
    server: Server,
    address: string,
    port: number,
    activity: Activity,
    health: HealthService,
  ) {
    this.server = server;
    this.address = address;
    this.port = port;
    this.activity = activity;
    this.health = health;
  }

  static async start(opts: GrpcServerOptions): Promise<GrpcServer> {
    const activity = new Activity();
    const ctx: CallContext = { service: opts.service, metrics: opts.metrics, activity };
    const server = new Server(channelOptions(opts.config));
    const health = new HealthService(ctx);
    server.addService(definition(SERVICE_NAMES.prediction), predictionService(ctx));
    server.addService(definition(SERVICE_NAMES.modelService), modelService(ctx));
    server.addService(definition(SERVICE_NAMES.inference), inferenceService(ctx));
    server.addService(definition(SERVICE_NAMES.health), health.implementation());
    addReflection(server, packageDefinition());
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host}:${opts.port}`, ServerCredentials.createInsecure(), (err, bound) =>
        err === null ? resolve(bound) : reject(err),
      );
    });
    return new GrpcServer(server, `${host}:${port}`, port, activity, health);
  }

  /** Calls being answered now. */
  get inflight(): number {
    return this.activity.inflight;
  }

  /** How long no call has been running (0 while one is): the drain waits for quiet. */
  quietMs(): number {
    return this.activity.quietMs();
  }

  /**
   * Asks every open connection's client to go elsewhere (HTTP/2 GOAWAY) while
   * the port stays open: calls running finish within `graceMs`, and the
   * client's next call opens a connection that the Service sends to another
   * pod once it has caught up (REST's `Connection: close` while draining).
   */
  goAway(graceMs: number): void {
    this.server.drain(this.address, graceMs);
  }

  /**
   * Stops taking connections and calls, lets the calls already running finish
   * (resolves true), and cuts them off after `timeoutMs` (resolves false).
   */
  async close(timeoutMs: number): Promise<boolean> {
    this.health.endWatches();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      new Promise<boolean>((resolve) => this.server.tryShutdown(() => resolve(true))),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) this.server.forceShutdown();
    return finished;
  }
}
