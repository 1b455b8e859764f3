// --batching_parameters_file: TF Serving's documented example into Tensorfleet's
// batching flags, its defaults for what a file leaves out, notices for settings
// without effect, and refusals.

import { describe, expect, it } from 'vitest';
import { SERVE_OPTIONS } from '../../../src/runtime/config.js';
import { RuntimeError } from '../../../src/runtime/errors.js';
import {
  TF_SERVING_BATCHING_DEFAULTS,
  parseBatchingParameters,
} from '../../../src/runtime/tfserving/batching-parameters.js';

const SOURCE = '--batching_parameters_file=/config/batching.txt';
const parse = (text: string) => parseBatchingParameters(text, SOURCE);

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

describe('BatchingParameters', () => {
  it("maps serving_config.md's example to --max-batch-size, --batch-timeout-micros, --max-queue-size and --workers", () => {
    const { batching, notices } = parse(`max_batch_size { value: 128 }
batch_timeout_micros { value: 0 }
max_enqueued_batches { value: 1000000 }
num_batch_threads { value: 8 }`);
    expect(batching).toEqual({
      maxBatchSize: 128,
      batchTimeoutMicros: 0,
      // TF Serving's queue counts batches, Tensorfleet's requests.
      maxQueueSize: 128_000_000,
      workers: 8,
    });
    expect(notices).toEqual([]);
  });

  it("takes TF Serving's defaults for what the file leaves out", () => {
    expect(TF_SERVING_BATCHING_DEFAULTS).toEqual({
      maxBatchSize: 1000,
      batchTimeoutMicros: 0,
      maxEnqueuedBatches: 10,
    });
    expect(parse('').batching).toEqual({
      maxBatchSize: 1000,
      batchTimeoutMicros: 0,
      maxQueueSize: 10_000,
      workers: undefined,
    });
    expect(parse('batch_timeout_micros { value: 2000 }').batching).toMatchObject({
      maxBatchSize: 1000,
      batchTimeoutMicros: 2000,
    });
    // An empty wrapper is its type's zero, as in protobuf.
    expect(errorOf('max_batch_size { }')).toContain(
      "BatchingParameters.max_batch_size is 0; Tensorfleet's --max-batch-size takes 1 to",
    );
  });

  it('accepts tuning that changes no answer and says it has no effect', () => {
    const { batching, notices } = parse(`max_batch_size { value: 8 }
allowed_batch_sizes: 2
allowed_batch_sizes: [4, 8]
enable_large_batch_splitting { value: true }
max_execution_batch_size { value: 4 }
thread_pool_name { value: "model_server_batch_threads" }
pad_variable_length_inputs: false`);
    expect(batching.maxBatchSize).toBe(8);
    expect(notices).toEqual([
      expect.stringContaining('allowed_batch_sizes has no effect'),
      expect.stringContaining(
        'enable_large_batch_splitting and max_execution_batch_size have no effect',
      ),
      expect.stringContaining('thread_pool_name "model_server_batch_threads" has no effect'),
    ]);
  });

  it('uses the limits of the runtime flags it maps to', () => {
    const workers = SERVE_OPTIONS.find((o) => o.flag === 'workers');
    expect(parse(`num_batch_threads { value: ${workers?.max} }`).batching.workers).toBe(
      workers?.max,
    );
    expect(errorOf(`num_batch_threads { value: ${(workers?.max ?? 0) + 1} }`)).toContain(
      `line 1, column 1: BatchingParameters.num_batch_threads is ${(workers?.max ?? 0) + 1}; Tensorfleet's --workers takes 1 to ${workers?.max}`,
    );
  });

  const refusals: [string, string, string][] = [
    [
      'an unknown field',
      'max_batch_size { value: 8 }\nmax_batch_sise { value: 8 }',
      'line 2, column 1: BatchingParameters has no field "max_batch_sise"',
    ],
    [
      'a wrapper written as a scalar',
      'max_batch_size: 128',
      'line 1, column 17: BatchingParameters.max_batch_size is a google.protobuf.Int64Value: write max_batch_size { value: 128 }',
    ],
    [
      'a field inside a wrapper other than value',
      'max_batch_size { val: 128 }',
      'line 1, column 18: BatchingParameters.max_batch_size (Int64Value) has no field "val"',
    ],
    [
      'a negative timeout',
      'batch_timeout_micros { value: -1 }',
      "BatchingParameters.batch_timeout_micros is -1; Tensorfleet's --batch-timeout-micros takes 0 to",
    ],
    [
      'no room in the queue',
      'max_enqueued_batches { value: 0 }',
      'line 1, column 1: BatchingParameters.max_enqueued_batches is 0; it must be at least 1',
    ],
    [
      'a queue larger than a number holds',
      'max_batch_size { value: 1000000000 } max_enqueued_batches { value: 1000000000 }',
      "line 1, column 38: max_enqueued_batches × max_batch_size is 1000000000000000000 requests, more than Tensorfleet's --max-queue-size takes",
    ],
    [
      'allowed sizes out of order',
      'max_batch_size { value: 8 } allowed_batch_sizes: [4, 2, 8]',
      'line 1, column 54: BatchingParameters.allowed_batch_sizes must be positive and increasing',
    ],
    [
      'allowed sizes that do not end at the maximum',
      'max_batch_size { value: 8 } allowed_batch_sizes: [2, 4]',
      'line 1, column 29: the last of allowed_batch_sizes (4) must equal max_batch_size (8), as TF Serving requires',
    ],
    [
      'allowed sizes against the default maximum',
      'allowed_batch_sizes: 8',
      'the last of allowed_batch_sizes (8) must equal max_batch_size (1000)',
    ],
    [
      'padding variable-length inputs',
      'pad_variable_length_inputs: true',
      'line 1, column 1: BatchingParameters.pad_variable_length_inputs is not supported by Tensorfleet',
    ],
    [
      'a bool that is not one',
      'pad_variable_length_inputs: yes',
      'line 1, column 29: BatchingParameters.pad_variable_length_inputs must be true or false, found "yes"',
    ],
  ];
  it.each(refusals)('refuses %s', (_name, text, message) => {
    const error = errorOf(text);
    expect(error.startsWith(`${SOURCE} line `)).toBe(true);
    expect(error).toContain(message);
  });

  it('returns frozen values', () => {
    const result = parse('max_batch_size { value: 4 }');
    expect(Object.isFrozen(result)).toBe(true);
    expect(Object.isFrozen(result.batching)).toBe(true);
    expect(Object.isFrozen(result.notices)).toBe(true);
  });
});
