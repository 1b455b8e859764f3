// The runtime's layers, read from its import graph. codec/ runs in the worker
// threads as well as on the HTTP thread, so it stays pure: it reaches neither
// the HTTP layer, nor the service, nor node:http. A worker thread's entry
// reaches none of them either. grpc/transport/ is a gRPC server that knows
// nothing of models: the runtime's services sit on it, not in it.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const RUNTIME = fileURLToPath(new URL('../../src/runtime/', import.meta.url));

/** What one source file imports: runtime files (relative to src/runtime, .ts) and packages. */
function importsOf(file: string): { files: string[]; packages: string[] } {
  const text = readFileSync(join(RUNTIME, file), 'utf8');
  const files: string[] = [];
  const packages: string[] = [];
  // Type-only imports count too: a layer should not know another's types either.
  for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
    if (!fileName.startsWith('.')) packages.push(fileName);
    else
      files.push(
        relative(RUNTIME, resolve(RUNTIME, dirname(file), fileName)).replace(/\.js$/, '.ts'),
      );
  }
  return { files, packages };
}

/** Every runtime file and package `entries` reach through their imports. */
function reach(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [...entries];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const found = importsOf(file);
    for (const p of found.packages) packages.add(p);
    // Files outside src/runtime (the contract) are followed too.
    todo.push(...found.files);
  }
  return { files, packages };
}

/** The .ts files under a directory of src/runtime, as paths relative to it. */
function sourcesUnder(dir: string): string[] {
  return readdirSync(join(RUNTIME, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/${f}`);
}

const codecFiles = sourcesUnder('codec');

/** What codec/ may import besides itself: the runtime's pure core. */
const CODEC_MAY_IMPORT = ['dtypes.ts', 'errors.ts', 'tensors.ts', 'models/signature.ts'];

/** What no worker-safe file may reach. */
function outsideWorkers(found: { files: Set<string>; packages: Set<string> }): string[] {
  return [
    ...[...found.files].filter(
      (f) => f.startsWith('http/') || f.startsWith('grpc/') || f === 'service.ts',
    ),
    ...[...found.packages].filter((p) =>
      ['fastify', '@grpc/grpc-js', 'node:http', 'node:http2', 'node:https', 'node:net'].includes(p),
    ),
  ];
}

describe('the runtime layers', () => {
  it('codec/ imports only codec/ and the pure core (dtypes, errors, tensors, signatures)', () => {
    expect(codecFiles.length).toBeGreaterThan(5);
    for (const file of codecFiles) {
      const { files, packages } = importsOf(file);
      const outside = files.filter((f) => !f.startsWith('codec/') && !CODEC_MAY_IMPORT.includes(f));
      expect({ file, outside, packages }).toEqual({ file, outside: [], packages: [] });
    }
  });

  it('codec/ reaches nothing of the HTTP layer or the service, even indirectly', () => {
    expect(outsideWorkers(reach(codecFiles))).toEqual([]);
  });

  it("a worker thread's entry reaches nothing of the HTTP layer or the service", () => {
    const found = reach(['workers/inference-worker.ts']);
    expect(found.files).toContain('codec/decode.ts');
    expect(outsideWorkers(found)).toEqual([]);
  });

  it('quality/ reaches neither transport nor the service, so either transport can record and label', () => {
    const files = sourcesUnder('quality');
    expect(files.length).toBeGreaterThan(5);
    expect(outsideWorkers(reach(files))).toEqual([]);
  });

  it('the two transports, http/ and grpc/, do not import each other', () => {
    const transports = ['http', 'grpc'] as const;
    for (const own of transports) {
      const other = transports.find((t) => t !== own)!;
      const files = sourcesUnder(own);
      expect(files.length).toBeGreaterThan(3);
      const crossing = files.flatMap((file) =>
        importsOf(file)
          .files.filter((f) => f.startsWith(`${other}/`))
          .map((f) => `${file} -> ${f}`),
      );
      expect(crossing).toEqual([]);
    }
  });

  it('grpc/transport/ imports only itself and node built-ins', () => {
    const files = sourcesUnder('grpc/transport');
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const { files: imported, packages } = importsOf(file);
      expect({
        file,
        outside: imported.filter((f) => !f.startsWith('grpc/transport/')),
        packages: packages.filter((p) => !p.startsWith('node:')),
      }).toEqual({ file, outside: [], packages: [] });
    }
  });
});
