// The runtime's gRPC server: TF Serving's PredictionService and ModelService,
// the Open Inference Protocol's GRPCInferenceService, grpc.health.v1.Health
// and server reflection, on one port beside REST's, over the same model
// service, on the runtime's own HTTP/2 transport (transport/). The message
// size limit is --max-body-bytes; connections are aged out like REST's
// keep-alive connections so that clients spread again over the pods.

import type { ServeConfig } from '../../contract/runtime.js';
import type { RuntimeMetrics } from '../metrics.js';
import type { RequestBodies } from '../request-bodies.js';
import type { ServedModels } from '../served-models.js';
import { servedModelsOf } from '../served-models.js';
import type { ModelService } from '../service.js';
import { Activity } from './calls.js';
import type { CallContext } from './calls.js';
import { HealthService } from './health.js';
import { inferenceService } from './inference-service.js';
import { SERVICE_NAMES, packageDefinition } from './protos.js';
import { addReflection } from './reflection.js';
import { modelService, predictionService } from './tfserving-service.js';
import type { ServiceDefinition } from './transport/server.js';
import { GrpcTransport } from './transport/server.js';
import type { ModelInferResponse } from './wire/model-infer.js';
import {
  decodeModelInferRequest,
  encodeModelInferResponse,
  rawContentsOffset,
} from './wire/model-infer.js';

export interface GrpcServerOptions {
  /** The served models and their versions; or `service` alone, one model at one fixed version. */
  models?: ServedModels;
  service?: ModelService;
  /** Not read: each version's service holds its metrics (accepted so callers need not change). */
  metrics?: RuntimeMetrics;
  config: Pick<ServeConfig, 'maxBodyBytes' | 'maxConnectionAgeSeconds' | 'requestTimeoutMs'>;
  host: string;
  /** How Predict answers carry tensors: typed fields (TF Serving's default) or tensor_content. */
  predictEncoding?: 'typed' | 'content';
  /** 0: any free port (GrpcServer.port says which). */
  port: number;
  /** The runtime's request-body buffers, for large requests (as REST reads its bodies into them). */
  bodies?: RequestBodies;
}

function definition(name: string): ServiceDefinition {
  // proto-loader's service entries are method definitions by name.
  return packageDefinition()[name] as unknown as ServiceDefinition;
}

/** The OIP service, with ModelInfer read and written on the wire directly (wire/model-infer.ts). */
function inferenceDefinition(): ServiceDefinition {
  const def = definition(SERVICE_NAMES.inference);
  const modelInfer = def['ModelInfer'];
  if (modelInfer === undefined) throw new Error('grpc_predict_v2.proto has no ModelInfer');
  return {
    ...def,
    ModelInfer: {
      ...modelInfer,
      requestDeserialize: decodeModelInferRequest,
      alignedOffset: rawContentsOffset,
      // The handler answers ModelInferResponse objects (inference-service.ts).
      responseSerialize: (value: unknown) => encodeModelInferResponse(value as ModelInferResponse),
    },
  };
}

export class GrpcServer {
  readonly port: number;
  private readonly server: GrpcTransport;
  private readonly activity: Activity;
  private readonly health: HealthService;

  private constructor(
    server: GrpcTransport,
    port: number,
    activity: Activity,
    health: HealthService,
  ) {
    this.server = server;
    this.port = port;
    this.activity = activity;
    this.health = health;
  }

  static async start(opts: GrpcServerOptions): Promise<GrpcServer> {
    const activity = new Activity();
    const ctx: CallContext = {
      models: servedModelsOf(opts),
      activity,
      predictEncoding: opts.predictEncoding ?? 'typed',
    };
    const server = new GrpcTransport({
      maxReceiveBytes: opts.config.maxBodyBytes,
      maxConnectionAgeMs: opts.config.maxConnectionAgeSeconds * 1000,
      // Calls still running when the age is reached may finish within their deadline.
      graceMs: opts.config.requestTimeoutMs,
      ...(opts.bodies === undefined ? {} : { allocate: opts.bodies.allocate.bind(opts.bodies) }),
    });
    const health = new HealthService(ctx);
    server.addService(definition(SERVICE_NAMES.prediction), predictionService(ctx));
    server.addService(definition(SERVICE_NAMES.modelService), modelService(ctx));
    server.addService(inferenceDefinition(), inferenceService(ctx));
    server.addService(definition(SERVICE_NAMES.health), health.implementation());
    addReflection(server, packageDefinition());
    const port = await server.listen(opts.host, opts.port);
    return new GrpcServer(server, port, activity, health);
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
    this.server.goAway(graceMs);
  }

  /**
   * Stops taking connections and calls, lets the calls already running finish
   * (resolves true), and cuts them off after `timeoutMs` (resolves false).
   */
  async close(timeoutMs: number): Promise<boolean> {
    this.health.endWatches();
    return this.server.close(timeoutMs);
  }
}
