// docker/runtime-gpu.Dockerfile says what the image is (its header, labels and
// the NVIDIA toolkit's variables), and those claims must be the truth: the
// versions the build pins (tools/native/versions.json, the CUDA wheels in
// tools/native/cuda-requirements.txt, Node in tools/images/versions.json) and
// the CUDA architectures TensorFlow's GPU library really carries. The built
// image's labels are compared with these in the end-to-end tier
// (test/e2e/gpu-image.test.ts), and `npm run images` refuses an image whose
// libtensorflow disagrees with its cuda-archs label.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaArchs } from '../../scripts/cuda-archs.js';
import { DEFAULT_CONFIG } from '../../src/operator/config.js';
import { dockerfileEnv, dockerfileLabels } from '../support/dockerfile.js';
import { nativeSkipReason, nativeStatus, REPO_ROOT } from '../runtime/native.js';

const read = (file: string): string => readFileSync(join(REPO_ROOT, file), 'utf8');
const dockerfile = read('docker/runtime-gpu.Dockerfile');
const labels = dockerfileLabels(dockerfile);
const env = dockerfileEnv(dockerfile);
const native = JSON.parse(read('tools/native/versions.json')) as {
  tensorflow: string;
  tfjsNode: string;
};
const node = JSON.parse(read('tools/images/versions.json')) as { node: { version: string } };
/** Project to version, from the pinned CUDA wheels. */
const wheels: Record<string, string> = Object.fromEntries(
  [...read('tools/native/cuda-requirements.txt').matchAll(/^([\w-]+)==([\d.]+)/gm)].map(
    (m) => [m[1] ?? '', m[2] ?? ''] as const,
  ),
);

describe('the GPU runtime Dockerfile', () => {
  it('labels the TensorFlow and tfjs-node-gpu the build pins', () => {
    expect(labels['dev.tensorfleet.tensorflow']).toBe(native.tensorflow);
    expect(labels['dev.tensorfleet.tfjs-node-gpu']).toBe(native.tfjsNode);
    expect(dockerfile).toContain(`libtensorflow ${native.tensorflow}`);
    expect(dockerfile).toContain(`@tensorflow/tfjs-node-gpu ${native.tfjsNode}`);
    expect(dockerfile).toMatch(/setup\.sh --flavor gpu /);
  });

  it('labels the CUDA and cuDNN of the wheels it installs, and asks the driver for that CUDA', () => {
    const cudart = wheels['nvidia-cuda-runtime-cu12'] ?? '';
    const cudnn = wheels['nvidia-cudnn-cu12'] ?? '';
    const [major, minor] = cudart.split('.');
    expect(labels['dev.tensorfleet.cuda']).toBe(`${major}.${minor}`);
    expect(env['CUDA_VERSION']).toBe(`${major}.${minor}`);
    expect(cudnn.startsWith(`${labels['dev.tensorfleet.cudnn']}.`)).toBe(true);
    expect(dockerfile).toContain(
      `CUDA ${major}.${minor}, cuDNN ${cudnn.split('.').slice(0, 2).join('.')}`,
    );
    expect(dockerfile).toContain(`/usr/local/cuda-${major}.${minor}/lib64`);
    // Minor version compatibility: any driver of the same CUDA major runs it.
    expect(env['NVIDIA_REQUIRE_CUDA']).toBe(`cuda>=${major}.0`);
    expect(env['NVIDIA_DRIVER_CAPABILITIES']).toBe('compute,utility');
    expect(labels['dev.tensorfleet.min-driver']).toBe('525.60.13');
    expect(dockerfile).toContain(
      `>= ${labels['dev.tensorfleet.min-driver']} works through CUDA's minor`,
    );
    expect(dockerfile).toContain(`Driver: >= ${labels['dev.tensorfleet.recommended-driver']}`);
  });

  it('keeps the CUDA libraries in a layer below the dependencies and the code, so code changes do not rebuild them', () => {
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const at = (text: string): number => {
      const i = final.indexOf(text);
      expect(i, text).toBeGreaterThan(-1);
      return i;
    };
    const cuda = at('from=cuda,source=/out/cuda-');
    expect(cuda).toBeLessThan(at('COPY package.json package-lock.json'));
    expect(cuda).toBeLessThan(at('from=native,source=/out/node_modules'));
    expect(cuda).toBeLessThan(at('COPY bin ./bin'));
    expect(cuda).toBeLessThan(at('COPY --from=build /src/dist ./dist'));
  });

  it('is built by npm run images under the name the operator and the chart default to', () => {
    const version = (JSON.parse(read('package.json')) as { version: string }).version;
    expect(read('tools/images/build.sh')).toMatch(
      /local name=tensorfleet\/runtime-gpu [^\n]*\n[\s\S]*?bud "\$\{name\}" docker\/runtime-gpu\.Dockerfile/,
    );
    expect(DEFAULT_CONFIG.runtimeGpuImage).toBe(`ghcr.io/tensorfleet/runtime-gpu:${version}`);
  });

  it('runs a supported Node LTS, the one the images pin', () => {
    const major = node.node.version.split('.')[0];
    expect(dockerfile).toMatch(new RegExp(`^ARG NODE_IMAGE=node:${major}-bookworm-slim$`, 'm'));
    expect(dockerfile).toContain(`Node.js ${major} (LTS)`);
  });

  const skip = nativeSkipReason();
  it.skipIf(skip !== undefined)(
    'claims the CUDA architectures the tensorflow wheel’s libtensorflow has code for (Hopper included)',
    () => {
      const status = nativeStatus();
      if (!status.available) throw new Error(status.reason);
      const archs = cudaArchs(
        join(status.manifest.gpu.libtensorflow, 'lib', 'libtensorflow_cc.so.2'),
      );
      const all = [...archs.cubin, ...archs.ptx].join(' ');
      expect(labels['dev.tensorfleet.cuda-archs']).toBe(all);
      expect(dockerfile).toContain(
        `GPU code for ${archs.cubin.join(' ')} and\n# ${archs.ptx.join(' ')} PTX`,
      );
      expect(archs.cubin).toContain('sm_90');
    },
  );
});
