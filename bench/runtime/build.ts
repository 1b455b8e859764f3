// The runtime under test is the compiled JavaScript that ships (bin/
// tensorfleet-runtime runs dist/), not the TypeScript sources under a
// loader: tsx's module hooks and source maps are not part of a deployment.

import { execFile } from 'node:child_process';
import { readFile, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Git-ignored and inside the repository, so that node_modules resolves. */
const OUT_DIR = join(ROOT, '.tensorfleet', 'bench', 'runtime-dist');

/** Compiles src/ with tsconfig.build.json into a private directory; returns the runtime's main.js. */
export async function buildRuntime(): Promise<string> {
  await rm(OUT_DIR, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', OUT_DIR];
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      [...args, '--declaration', 'false', '--sourceMap', 'false'],
      { cwd: ROOT, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`tsc failed: ${stdout}${stderr}`));
        else resolve();
      },
    );
  });
  // The gRPC services load proto/ from beside dist/ (src/runtime/grpc/protos.ts), as in the package.
  const protos = join(dirname(OUT_DIR), 'proto');
  await rm(protos, { force: true });
  await symlink(join(ROOT, 'proto'), protos);
  return join(OUT_DIR, 'runtime', 'main.js');
}

/**
 * The node flags bin/tensorfleet-runtime.js starts the runtime with (its
 * `#!/usr/bin/env -S node ...` line), so the bench runs it as deployed.
 */
export async function runtimeNodeFlags(): Promise<string[]> {
  const bin = await readFile(join(ROOT, 'bin', 'tensorfleet-runtime.js'), 'utf8');
  const shebang = /^#!\/usr\/bin\/env (?:-S )?node(.*)$/m.exec(bin.split('\n')[0] ?? '');
  if (shebang === null) throw new Error('bin/tensorfleet-runtime.js: unexpected first line');
  return (shebang[1] ?? '').split(' ').filter((f) => f !== '');
}
