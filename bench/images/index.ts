// The images' sizes, layer by layer, and the GPU runtime image's cold build:
// - every image `npm run images` built: layers, compressed (what a node
//   pulls) and uncompressed (what it unpacks) bytes;
// - the GPU image's layers, each with the Dockerfile step that made it: the
//   CUDA libraries must be a layer of their own, below the code;
// - `tools/images/build.sh --cold tensorfleet/runtime-gpu`: that image built
//   from an empty layer cache and empty cache mounts (wheels downloaded,
//   libtensorflow unpacked, the addon compiled), on the base images already
//   made, and whether it reproduced the same manifest digest.
//
//   npm run bench -- --only images     # root on Linux, after npm run images
//
// Environment: BENCH_IMAGES_GPU_COLD (1; 0 skips the cold build).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { cacheDir } from '../../src/localcluster/manifest.js';
import { readImagesManifest } from '../../src/localcluster/node/registry.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GPU_IMAGE = 'tensorfleet/runtime-gpu';
const run = promisify(execFile);

interface Layer {
  compressed: number;
  uncompressed: number;
  step: string;
}

export interface ImageSize {
  name: string;
  tag: string;
  layers: Layer[];
}

export interface ImagesReport {
  images: ImageSize[];
  cold?: { seconds: number; line: string; sameDigest: boolean };
}

interface OciManifest {
  config: { digest: string };
  layers: Array<{ digest: string; size: number }>;
}

const blob = (layout: string, digest: string): string =>
  join(layout, 'blobs', ...digest.split(':'));
const readJson = async <T>(file: string): Promise<T> =>
  JSON.parse(await readFile(file, 'utf8')) as T;

async function manifestOf(layout: string, tag: string): Promise<OciManifest> {
  const index = await readJson<{
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  }>(join(layout, 'index.json'));
  const entry = index.manifests.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  if (entry === undefined) throw new Error(`${layout} has no image tagged ${tag}`);
  return readJson<OciManifest>(blob(layout, entry.digest));
}

/** Layer sizes from the gzip layout and the plain one, and the step that made each (config history). */
async function imageSize(name: string, tag: string, layout: string): Promise<ImageSize> {
  const gz = await manifestOf(layout, tag);
  const plain = await manifestOf(
    join(cacheDir(), 'images', 'plain', name.replaceAll('/', '-')),
    tag,
  );
  const config = await readJson<{
    history?: Array<{ created_by?: string; empty_layer?: boolean }>;
  }>(blob(layout, gz.config.digest));
  const steps = (config.history ?? [])
    .filter((h) => h.empty_layer !== true)
    .map((h) => h.created_by ?? '');
  return {
    name,
    tag,
    layers: gz.layers.map((l, i) => ({
      compressed: l.size,
      uncompressed: plain.layers[i]?.size ?? 0,
      step: steps[i] ?? '',
    })),
  };
}

export async function runImagesBench(options: {
  cold: boolean;
  log: (line: string) => void;
}): Promise<ImagesReport> {
  const before = (await readImagesManifest(cacheDir())).images.find((i) => i.name === GPU_IMAGE);
  if (before === undefined) throw new Error(`${GPU_IMAGE} is not built: run npm run images first`);
  let cold: ImagesReport['cold'];
  if (options.cold) {
    options.log(`images: building ${GPU_IMAGE} cold (empty layer cache and cache mounts; minutes)`);
    const t0 = performance.now();
    const { stderr } = await run(
      'bash',
      [join(ROOT, 'tools/images/build.sh'), '--cold', GPU_IMAGE],
      {
        maxBuffer: 64 << 20,
      },
    );
    const seconds = (performance.now() - t0) / 1000;
    const line = stderr.split('\n').find((l) => l.includes(`${GPU_IMAGE}: built in`)) ?? '';
    const digest = /same digest (sha256:[0-9a-f]+)/.exec(stderr)?.[1];
    cold = {
      seconds,
      line: line.replace(/^\[images\] /, ''),
      sameDigest: digest === before.digest,
    };
  }
  const manifest = await readImagesManifest(cacheDir());
  const images = await Promise.all(manifest.images.map((i) => imageSize(i.name, i.tag, i.layout)));
  return { images, ...(cold === undefined ? {} : { cold }) };
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
const sum = (layers: Layer[], key: 'compressed' | 'uncompressed'): number =>
  layers.reduce((a, l) => a + l[key], 0);

/** The Dockerfile step, short: its instruction and first words. */
function step(createdBy: string): string {
  const text = createdBy
    .replace(/^\/bin\/sh -c #\(nop\) /, '')
    .replace(/--mount=\S+\s*/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 90 ? `${text.slice(0, 87)}...` : text;
}

export function summarize(report: ImagesReport): string {
  const lines = [
    '| image | layers | compressed MB | uncompressed MB |',
    '|---|---:|---:|---:|',
    ...report.images.map(
      (i) =>
        `| ${i.name}:${i.tag} | ${i.layers.length} | ${mb(sum(i.layers, 'compressed'))} | ${mb(sum(i.layers, 'uncompressed'))} |`,
    ),
  ];
  const gpu = report.images.find((i) => i.name === GPU_IMAGE);
  if (gpu !== undefined) {
    lines.push('', `${GPU_IMAGE} layer by layer (base first):`, '');
    lines.push('| step | compressed MB | uncompressed MB |', '|---|---:|---:|');
    for (const l of gpu.layers) {
      lines.push(
        `| \`${step(l.step).replaceAll('|', '\\|')}\` | ${mb(l.compressed)} | ${mb(l.uncompressed)} |`,
      );
    }
  }
  if (report.cold !== undefined) {
    lines.push(
      '',
      `Cold build of ${GPU_IMAGE} (\`tools/images/build.sh --cold ${GPU_IMAGE}\`, bases already made): ${report.cold.seconds.toFixed(0)} s in all; ${report.cold.line}; ${report.cold.sameDigest ? 'the same manifest digest as the cached build' : 'a DIFFERENT manifest digest from the cached build'}.`,
    );
  }
  return lines.join('\n');
}
