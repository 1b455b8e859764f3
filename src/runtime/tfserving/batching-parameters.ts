// TF Serving's --batching_parameters_file: a BatchingParameters message
// (tensorflow_serving/servables/tensorflow/session_bundle_config.proto) in text
// format, read into Tensorfleet's batching flags. Fields left out take TF
// Serving's defaults (its SharedBatchScheduler's), so a file means what it
// means to TF Serving. Settings that only tune how TF Serving computes a batch
// and change no answer are accepted and reported as notices; one that would
// change answers and that Tensorfleet does not implement is refused.

import { SERVE_OPTIONS } from '../config.js';
import { deepFreeze } from './deep-freeze.js';
import { parseTextFormat } from './text-format.js';
import { TextMessageReader } from './text-message-reader.js';

/** TF Serving's defaults for fields a batching file leaves out. */
export const TF_SERVING_BATCHING_DEFAULTS = Object.freeze({
  maxBatchSize: 1000,
  batchTimeoutMicros: 0,
  maxEnqueuedBatches: 10,
});

/** Batching as Tensorfleet's runtime flags take it. */
export interface TfServingBatching {
  /** `--max-batch-size`: max_batch_size. */
  readonly maxBatchSize: number;
  /** `--batch-timeout-micros`: batch_timeout_micros. */
  readonly batchTimeoutMicros: number;
  /**
   * `--max-queue-size`, which counts requests: max_enqueued_batches ×
   * max_batch_size, the most single-row requests TF Serving's queue (which
   * counts batches) holds.
   */
  readonly maxQueueSize: number;
  /** `--workers`: num_batch_threads; undefined: Tensorfleet's default (CPUs less one). */
  readonly workers: number | undefined;
}

export interface BatchingParametersResult {
  readonly batching: TfServingBatching;
  /** Settings accepted without effect, one message each, for the startup log. */
  readonly notices: readonly string[];
}

function flagLimits(flag: string): { min: number; max: number } {
  const spec = SERVE_OPTIONS.find((o) => o.flag === flag);
  return { min: spec?.min ?? 1, max: spec?.max ?? Number.MAX_SAFE_INTEGER };
}

/** A wrapped int64 as a number within the range of the runtime flag it becomes. */
function readLimited(
  reader: TextMessageReader,
  name: string,
  flag: string,
  fallback: number | undefined,
): number | undefined {
  const value = reader.wrappedInteger(name, 'int64');
  if (value === undefined) return fallback;
  const { min, max } = flagLimits(flag);
  if (value < BigInt(min) || value > BigInt(max)) {
    throw reader.error(
      reader.positionOf(name),
      `${reader.what(name)} is ${value}; Tensorfleet's --${flag} takes ${min} to ${max}`,
    );
  }
  return Number(value);
}

/**
 * Reads a BatchingParameters text file. `source` names it in errors
 * (`--batching_parameters_file=/config/batching.txt`). Throws
 * RuntimeError('CONFIG_INVALID', '<source> line L, column C: ...').
 */
export function parseBatchingParameters(text: string, source: string): BatchingParametersResult {
  const reader = new TextMessageReader(
    parseTextFormat(text, source),
    source,
    'BatchingParameters',
    {
      max_batch_size: 'supported',
      batch_timeout_micros: 'supported',
      max_enqueued_batches: 'supported',
      num_batch_threads: 'supported',
      thread_pool_name: 'supported',
      enable_large_batch_splitting: 'supported',
      max_execution_batch_size: 'supported',
      allowed_batch_sizes: 'supported',
      pad_variable_length_inputs: 'supported',
    },
  );
  const notices: string[] = [];
  const maxBatchSize = readLimited(
    reader,
    'max_batch_size',
    'max-batch-size',
    TF_SERVING_BATCHING_DEFAULTS.maxBatchSize,
  ) as number;
  const batchTimeoutMicros = readLimited(
    reader,
    'batch_timeout_micros',
    'batch-timeout-micros',
    TF_SERVING_BATCHING_DEFAULTS.batchTimeoutMicros,
  ) as number;
  const workers = readLimited(reader, 'num_batch_threads', 'workers', undefined);

  const enqueued =
    reader.wrappedInteger('max_enqueued_batches', 'int64') ??
    BigInt(TF_SERVING_BATCHING_DEFAULTS.maxEnqueuedBatches);
  if (enqueued < 1n) {
    throw reader.error(
      reader.positionOf('max_enqueued_batches'),
      `BatchingParameters.max_enqueued_batches is ${enqueued}; it must be at least 1`,
    );
  }
  const queue = enqueued * BigInt(maxBatchSize);
  const queueLimits = flagLimits('max-queue-size');
  if (queue > BigInt(queueLimits.max)) {
    throw reader.error(
      reader.positionOf('max_enqueued_batches'),
      `max_enqueued_batches × max_batch_size is ${queue} requests, more than Tensorfleet's --max-queue-size takes (${queueLimits.max})`,
    );
  }

  const allowed = reader.integers('allowed_batch_sizes', 'int64');
  if (allowed.length > 0) {
    // TF Serving's own checks, so that a file it refuses is refused here too.
    allowed.forEach((size, i) => {
      const previous = allowed[i - 1];
      if (size < 1n || (previous !== undefined && size <= previous)) {
        throw reader.error(
          reader.values('allowed_batch_sizes')[i]?.position ??
            reader.positionOf('allowed_batch_sizes'),
          'BatchingParameters.allowed_batch_sizes must be positive and increasing',
        );
      }
    });
    const last = allowed[allowed.length - 1];
    if (last !== BigInt(maxBatchSize)) {
      throw reader.error(
        reader.positionOf('allowed_batch_sizes'),
        `the last of allowed_batch_sizes (${last}) must equal max_batch_size (${maxBatchSize}), as TF Serving requires`,
      );
    }
    notices.push(
      'allowed_batch_sizes has no effect: Tensorfleet runs each batch at the size it forms instead of padding it to an allowed size (the answers are the same)',
    );
  }
  if (reader.bool('pad_variable_length_inputs') === true) {
    throw reader.error(
      reader.positionOf('pad_variable_length_inputs'),
      'BatchingParameters.pad_variable_length_inputs is not supported by Tensorfleet: it does not pad inputs of different lengths to batch them; remove it or set it to false',
    );
  }
  const splitting = reader.wrappedBool('enable_large_batch_splitting');
  if (splitting !== undefined || reader.has('max_execution_batch_size')) {
    reader.wrappedInteger('max_execution_batch_size', 'int64');
    notices.push(
      'enable_large_batch_splitting and max_execution_batch_size have no effect: Tensorfleet computes a request larger than max_batch_size as a batch of its own, unsplit (it is answered either way)',
    );
  }
  const poolName = reader.wrappedString('thread_pool_name');
  if (poolName !== undefined) {
    notices.push(
      `thread_pool_name ${JSON.stringify(poolName)} has no effect: Tensorfleet's batches run in its worker threads (--workers)`,
    );
  }
  return deepFreeze({
    batching: { maxBatchSize, batchTimeoutMicros, maxQueueSize: Number(queue), workers },
    notices,
  });
}
