// The AWS SDK is imported only when an s3:// URI is used: a runtime that
// serves file://, http(s)://, gs:// or pvc:// models never loads it.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const PROBE = fileURLToPath(new URL('./s3-sdk-probe.ts', import.meta.url));
const TSX = createRequire(import.meta.url).resolve('tsx');

describe('loading the AWS SDK', () => {
  it('happens on the first s3:// use, not for a file:// model', async () => {
    const work = await mkdtemp(join(tmpdir(), 'tensorfleet-s3-load-'));
    try {
      const model = join(work, 'model');
      await mkdir(model);
      await writeFile(join(model, 'model.json'), '{}');
      const { stdout } = await promisify(execFile)(process.execPath, [
        '--import',
        TSX,
        PROBE,
        pathToFileURL(model).href,
        work,
      ]);
      expect(JSON.parse(stdout)).toEqual({
        afterFile: false,
        afterS3: true,
        s3Error: 'listing s3://models/m/1: request to http://127.0.0.1:9 failed (ECONNREFUSED)',
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);
});
