// `npm run gpu:check`: for a person with an NVIDIA GPU, one command that shows
// the GPU backend really uses it. It sets up the native backends
// (`npm run setup:native`) and the CUDA 12 and cuDNN libraries of the GPU
// image (tools/native/cuda.sh, from the wheels tools/native/cuda-requirements.txt
// pins), then, each backend in a process of its own:
//   1. runs the CNN on tensorflow-gpu with TensorFlow logging each op's
//      device, and fails unless the backend reports device gpu and every
//      convolution and matrix product ran on /device:GPU:0;
//   2. prints the CNN's throughput at batch 1 and 32 on tensorflow-gpu and on
//      the CPU backend (tensorflow), side by side.
// Without a GPU (no /dev/nvidiactl: the NVIDIA driver is not loaded) it says
// so and exits 0, checking nothing: CI runs it that way.
// Needs what setup:native needs; the driver's libcuda comes from the host.
// Options: --seconds N (per measurement, default 5).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { cacheDir } from '../../src/localcluster/manifest.js';
import { NVIDIA_CONTROL_DEVICE } from '../../src/runtime/backends/select.js';
import type { BackendName } from '../../src/runtime/backends/select.js';
import { writeCnn } from '../../test/support/models.js';
import type { ChildResult } from './child.js';
import { misplaced, PLACEMENT_LOG_ENV, placements } from './placement.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const GPU_DEVICE = '/device:GPU:0';

const say = (line: string): void => {
  process.stdout.write(`[gpu:check] ${line}\n`);
};

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  capture = false,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}\n${stderr.slice(-4000)}`)),
    );
  });
}

/** Runs bench/gpu/child.ts on one backend; its JSON result and TensorFlow's log. */
export async function runChild(
  backend: BackendName,
  modelDir: string,
  mode: 'placement' | 'throughput',
  env: NodeJS.ProcessEnv,
  seconds = 5,
): Promise<{ result: ChildResult; log: string }> {
  const { stdout, stderr } = await run(
    process.execPath,
    ['--import', 'tsx', CHILD, backend, modelDir, mode, String(seconds)],
    env,
    true,
  );
  const last = stdout.trim().split('\n').pop() ?? '';
  return { result: JSON.parse(last) as ChildResult, log: stderr };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--seconds');
  const seconds = at === -1 ? 5 : Number(argv[at + 1]);
  if (!existsSync(NVIDIA_CONTROL_DEVICE)) {
    say(
      `skipped: no NVIDIA GPU on this machine (${NVIDIA_CONTROL_DEVICE} is absent: no NVIDIA driver is loaded). Nothing was checked; run it where nvidia-smi lists a GPU.`,
    );
    return;
  }
  await run('bash', [join(ROOT, 'tools/native/setup.sh')]);
  const requirements = readFileSync(join(ROOT, 'tools/native/cuda-requirements.txt'));
  const cuda = join(
    cacheDir(),
    'native',
    `cuda-${createHash('sha256').update(requirements).digest('hex').slice(0, 10)}`,
  );
  await run('bash', [join(ROOT, 'tools/native/cuda.sh'), cuda]);
  const gpuEnv = {
    LD_LIBRARY_PATH: [join(cuda, 'lib64'), process.env['LD_LIBRARY_PATH']]
      .filter(Boolean)
      .join(':'),
  };
  const dir = await mkdtemp(join(tmpdir(), 'tensorfleet-gpu-check-'));
  try {
    const model = await writeCnn(join(dir, 'cnn'), { size: 224, channels: 3 });
    const placed = await runChild('tensorflow-gpu', model, 'placement', {
      ...gpuEnv,
      ...PLACEMENT_LOG_ENV,
    });
    if (placed.result.device !== 'gpu') {
      throw new Error(
        `tensorflow-gpu computes on the ${placed.result.device}: TensorFlow found no GPU it can use. Its log:\n${placed.log.slice(-4000)}`,
      );
    }
    const found = placements(placed.log);
    const wrong = misplaced(found, GPU_DEVICE);
    if (wrong !== undefined) throw new Error(`not every compute op ran on ${GPU_DEVICE}: ${wrong}`);
    const ops = [...found]
      .filter(([, d]) => d.every((x) => x.endsWith(GPU_DEVICE)))
      .map(([op]) => op);
    say(`placement: ${ops.join(', ')} ran on ${GPU_DEVICE}`);

    const quiet = { TF_CPP_MIN_LOG_LEVEL: '2' };
    const gpu = await runChild(
      'tensorflow-gpu',
      model,
      'throughput',
      { ...gpuEnv, ...quiet },
      seconds,
    );
    const cpu = await runChild('tensorflow', model, 'throughput', quiet, seconds);
    say(`CNN 224x224x3, ${seconds} s per measurement:`);
    process.stdout.write(
      '\n| batch | tensorflow-gpu (GPU) rows/s | tensorflow (CPU) rows/s | GPU / CPU |\n|---:|---:|---:|---:|\n',
    );
    for (const g of gpu.result.throughput) {
      const c = cpu.result.throughput.find((t) => t.batch === g.batch);
      const ratio = c === undefined ? '' : `${(g.rowsPerSecond / c.rowsPerSecond).toFixed(1)}x`;
      process.stdout.write(
        `| ${g.batch} | ${g.rowsPerSecond.toFixed(1)} | ${c?.rowsPerSecond.toFixed(1) ?? ''} | ${ratio} |\n`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  main().catch((err: unknown) => {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
