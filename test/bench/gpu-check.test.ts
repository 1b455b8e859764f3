// `npm run gpu:check` as far as a machine without a GPU allows: it says it
// checked nothing and exits 0; the placement check reads TensorFlow's real
// log (here every op is on the CPU, which the check must reject for the GPU
// and accept for the CPU); and the GPU build here reports device cpu, which
// the check turns into a failure.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runChild } from '../../bench/gpu/check.js';
import { misplaced, PLACEMENT_LOG_ENV, placements } from '../../bench/gpu/placement.js';
import { NVIDIA_CONTROL_DEVICE } from '../../src/runtime/backends/select.js';
import { writeCnn } from '../support/models.js';
import { nativeSkipReason } from '../runtime/native.js';

const CHECK = fileURLToPath(new URL('../../bench/gpu/check.ts', import.meta.url));
const GPU = '/device:GPU:0';
const CPU = '/device:CPU:0';
const line = (op: string, device: string): string =>
  `2026-12-07 12:00:00.000000: I tensorflow/core/common_runtime/eager/execute.cc:1756] Executing op ${op} in device /job:localhost/replica:0/task:0${device}`;

describe('reading placements from TensorFlow’s log', () => {
  it('collects each op’s devices and rejects any compute op off the device', () => {
    const log = [
      line('Conv2D', GPU),
      'unrelated line',
      line('BatchMatMulV2', GPU),
      line('Conv2D', GPU),
      line('Shape', CPU),
    ].join('\n');
    const found = placements(log);
    expect([...found]).toEqual([
      ['Conv2D', [`/job:localhost/replica:0/task:0${GPU}`]],
      ['BatchMatMulV2', [`/job:localhost/replica:0/task:0${GPU}`]],
      ['Shape', [`/job:localhost/replica:0/task:0${CPU}`]],
    ]);
    // Host-side ops may stay on the CPU; compute ops may not.
    expect(misplaced(found, GPU)).toBeUndefined();
    expect(misplaced(placements(`${log}\n${line('Conv2D', CPU)}`), GPU)).toBe(
      `Conv2D ran on /job:localhost/replica:0/task:0${GPU}, /job:localhost/replica:0/task:0${CPU}`,
    );
    expect(misplaced(placements(line('Shape', GPU)), GPU)).toBe(
      'TensorFlow logged no /Conv2D|MatMul/ op (ops logged: Shape)',
    );
    expect(misplaced(placements(''), GPU)).toMatch(/ops logged: none\)$/);
  });

  it('reads oneDNN’s CPU op names as the ops they stand for', () => {
    const found = placements(
      ['_MklNativeConv2D', '_MklFusedConv2D', '_MklBatchMatMulV2', 'Conv2D']
        .map((op) => line(op, CPU))
        .join('\n'),
    );
    expect([...found.keys()]).toEqual(['Conv2D', 'FusedConv2D', 'BatchMatMulV2']);
    expect(misplaced(found, GPU)).toMatch(/^Conv2D ran on .*CPU:0; FusedConv2D ran on/);
  });
});

describe('npm run gpu:check without a GPU', () => {
  it('says it checked nothing and why, and exits 0', async (ctx) => {
    ctx.skip(existsSync(NVIDIA_CONTROL_DEVICE), 'a GPU is visible here');
    const child = spawn(process.execPath, ['--import', 'tsx', CHECK], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(out).toBe(
      '[gpu:check] skipped: no NVIDIA GPU on this machine (/dev/nvidiactl is absent: no NVIDIA driver is loaded). Nothing was checked; run it where nvidia-smi lists a GPU.\n',
    );
  }, 60_000);
});

const skip = nativeSkipReason();
describe.skipIf(skip !== undefined)('the placement check on TensorFlow’s real log', () => {
  let dir = '';
  let model = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tensorfleet-gpu-check-test-'));
    model = await writeCnn(join(dir, 'cnn'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('finds the CNN’s convolutions and matrix product on the CPU, and rejects them for the GPU', async () => {
    const { result, log } = await runChild('tensorflow', model, 'placement', PLACEMENT_LOG_ENV);
    expect(result.device).toBe('cpu');
    const found = placements(log);
    expect([...found.keys()]).toEqual(expect.arrayContaining(['Conv2D']));
    expect([...found.keys()].some((op) => /MatMul/.test(op))).toBe(true);
    expect(misplaced(found, CPU)).toBeUndefined();
    expect(misplaced(found, GPU)).toMatch(
      /^Conv2D ran on \/job:localhost\/replica:0\/task:0\/device:CPU:0/,
    );
  }, 60_000);

  it('the GPU build without a GPU reports device cpu (the check refuses that) and measures both batches', async () => {
    const { result } = await runChild(
      'tensorflow-gpu',
      model,
      'throughput',
      { TF_CPP_MIN_LOG_LEVEL: '3' },
      0.2,
    );
    expect(result).toMatchObject({ backend: 'tensorflow-gpu', device: 'cpu' });
    expect(result.throughput.map((t) => t.batch)).toEqual([1, 32]);
    for (const t of result.throughput) expect(t.rowsPerSecond).toBeGreaterThan(0);
  }, 60_000);
});
