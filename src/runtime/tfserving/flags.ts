// Every flag of TF Serving's tensorflow_model_server
// (tensorflow_serving/model_servers/main.cc, 2.16 to 2.20), with its type and
// default there, and what Tensorfleet does with it:
// - supported: it has its TF Serving meaning (command-line.ts reads it);
// - no-effect: accepted and reported at startup; it tunes a part of TF
//   Serving's C++ server that Tensorfleet does not have, and leaving it out
//   changes no answer a client gets;
// - refused: it would change what is loaded, served or how clients connect,
//   and Tensorfleet does not implement it; only the values in `accepted`
//   (TF Serving's default, which asks for nothing) pass.
// docs/tfserving-dropin.md shows this table; a test keeps the two in step.

export type FlagType = 'int32' | 'int64' | 'float' | 'bool' | 'string';
export type FlagValue = number | boolean | string;

export type FlagDisposition =
  | { readonly kind: 'supported' }
  | { readonly kind: 'no-effect'; readonly why: string }
  | { readonly kind: 'refused'; readonly why: string; readonly accepted: readonly FlagValue[] };

export interface TfServingFlag {
  readonly name: string;
  readonly type: FlagType;
  readonly disposition: FlagDisposition;
}

const supported: FlagDisposition = { kind: 'supported' };

function noEffect(why: string): FlagDisposition {
  return { kind: 'no-effect', why };
}

function refused(why: string, ...accepted: FlagValue[]): FlagDisposition {
  return { kind: 'refused', why, accepted };
}

const flags: TfServingFlag[] = [
  { name: 'port', type: 'int32', disposition: supported },
  {
    name: 'grpc_socket_path',
    type: 'string',
    disposition: refused('gRPC on a UNIX socket is not implemented; use --port', ''),
  },
  { name: 'rest_api_port', type: 'int32', disposition: supported },
  {
    name: 'rest_api_num_threads',
    type: 'int32',
    disposition: noEffect(
      'Tensorfleet answers HTTP on one event loop and computes in its worker threads (--workers)',
    ),
  },
  { name: 'rest_api_timeout_in_ms', type: 'int32', disposition: supported },
  {
    name: 'rest_api_enable_cors_support',
    type: 'bool',
    disposition: refused('Tensorfleet sends no CORS headers', false),
  },
  { name: 'enable_batching', type: 'bool', disposition: supported },
  { name: 'allow_version_labels_for_unavailable_models', type: 'bool', disposition: supported },
  { name: 'batching_parameters_file', type: 'string', disposition: supported },
  {
    name: 'enable_per_model_batching_parameters',
    type: 'bool',
    disposition: refused(
      "batching parameters from a SavedModel's batching_params.pbtxt are not read; use --batching_parameters_file",
      false,
    ),
  },
  { name: 'model_config_file', type: 'string', disposition: supported },
  { name: 'model_config_file_poll_wait_seconds', type: 'int32', disposition: supported },
  { name: 'model_name', type: 'string', disposition: supported },
  { name: 'model_base_path', type: 'string', disposition: supported },
  {
    name: 'num_load_threads',
    type: 'int32',
    disposition: noEffect('Tensorfleet loads models without blocking requests to loaded ones'),
  },
  {
    name: 'num_unload_threads',
    type: 'int32',
    disposition: noEffect('Tensorfleet unloads models without blocking requests to loaded ones'),
  },
  { name: 'max_num_load_retries', type: 'int32', disposition: supported },
  { name: 'load_retry_interval_micros', type: 'int64', disposition: supported },
  { name: 'file_system_poll_wait_seconds', type: 'int32', disposition: supported },
  {
    name: 'flush_filesystem_caches',
    type: 'bool',
    disposition: noEffect('Tensorfleet does not manage the file system cache'),
  },
  {
    name: 'tensorflow_session_parallelism',
    type: 'int64',
    disposition: noEffect("TensorFlow's thread pools follow Tensorfleet's --cpus"),
  },
  {
    name: 'tensorflow_session_config_file',
    type: 'string',
    disposition: refused(
      "a TensorFlow ConfigProto (devices, GPU options, graph options) is not applied to TensorFlow.js's backends",
      '',
    ),
  },
  {
    name: 'tensorflow_intra_op_parallelism',
    type: 'int64',
    disposition: noEffect("TensorFlow's thread pools follow Tensorfleet's --cpus"),
  },
  {
    name: 'tensorflow_inter_op_parallelism',
    type: 'int64',
    disposition: noEffect("TensorFlow's thread pools follow Tensorfleet's --cpus"),
  },
  {
    name: 'use_alts_credentials',
    type: 'bool',
    disposition: refused('gRPC with ALTS credentials is not implemented', false),
  },
  {
    name: 'ssl_config_file',
    type: 'string',
    disposition: refused(
      'TLS on the gRPC port is not implemented; terminate TLS in front of the runtime (a mesh or an ingress)',
      '',
    ),
  },
  {
    name: 'platform_config_file',
    type: 'string',
    disposition: refused(
      "a PlatformConfigMap configures TF Serving's C++ platforms, which Tensorfleet does not have",
      '',
    ),
  },
  {
    name: 'per_process_gpu_memory_fraction',
    type: 'float',
    disposition: refused('Tensorfleet does not cap the GPU memory a process takes', 0),
  },
  {
    name: 'saved_model_tags',
    type: 'string',
    disposition: refused('Tensorfleet loads the MetaGraph tagged "serve" only', '', 'serve'),
  },
  {
    name: 'grpc_channel_arguments',
    type: 'string',
    disposition: refused(
      "gRPC channel arguments are not passed to Tensorfleet's gRPC server (it has --max-connection-age-seconds)",
      '',
    ),
  },
  {
    name: 'grpc_max_threads',
    type: 'int32',
    disposition: noEffect(
      'Tensorfleet answers gRPC on one event loop and computes in its worker threads (--workers)',
    ),
  },
  { name: 'enable_model_warmup', type: 'bool', disposition: supported },
  { name: 'num_request_iterations_for_warmup', type: 'int32', disposition: supported },
  { name: 'version', type: 'bool', disposition: supported },
  { name: 'monitoring_config_file', type: 'string', disposition: supported },
  {
    name: 'remove_unused_fields_from_bundle_metagraph',
    type: 'bool',
    disposition: noEffect('Tensorfleet keeps no MetaGraphDef in memory after loading'),
  },
  {
    name: 'prefer_tflite_model',
    type: 'bool',
    disposition: refused('TensorFlow Lite models are not served', false),
  },
  {
    name: 'num_tflite_pools',
    type: 'int32',
    disposition: noEffect('TensorFlow Lite models are not served'),
  },
  {
    name: 'num_tflite_interpreters_per_pool',
    type: 'int32',
    disposition: noEffect('TensorFlow Lite models are not served'),
  },
  {
    name: 'enable_signature_method_name_check',
    type: 'bool',
    disposition: refused("the check of a SignatureDef's method_name is not implemented", false),
  },
  {
    name: 'xla_cpu_compilation_enabled',
    type: 'bool',
    disposition: refused("XLA JIT compilation is not available in TensorFlow.js's backends", false),
  },
  {
    name: 'xla_gpu_compilation_enabled',
    type: 'bool',
    disposition: refused("XLA JIT compilation is not available in TensorFlow.js's backends", false),
  },
  {
    name: 'enable_profiler',
    type: 'bool',
    disposition: refused(
      "TensorFlow's profiler gRPC service is not served (TF Serving's default is true: Tensorfleet always behaves as --enable_profiler=false)",
      false,
    ),
  },
  {
    name: 'thread_pool_factory_config_file',
    type: 'string',
    disposition: refused('custom thread pool factories are a TF Serving C++ extension point', ''),
  },
  {
    name: 'mixed_precision',
    type: 'string',
    disposition: refused('automatic mixed precision (bfloat16) is not implemented', ''),
  },
  {
    name: 'skip_initialize_tpu',
    type: 'bool',
    disposition: noEffect('Tensorfleet does not run on TPUs'),
  },
  {
    name: 'enable_grpc_healthcheck_service',
    type: 'bool',
    disposition: noEffect('Tensorfleet always serves grpc.health.v1.Health on its gRPC port'),
  },
  { name: 'enable_serialization_as_tensor_content', type: 'bool', disposition: supported },
];

/** The flags of tensorflow_model_server by name, in main.cc's order. */
export const TF_SERVING_FLAGS: ReadonlyMap<string, TfServingFlag> = new Map(
  flags.map((f) => [f.name, Object.freeze(f)]),
);
