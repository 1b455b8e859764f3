// `npm run generate`: writes every generated file from the one schema source.
// `npm run generate -- --check` fails when a committed file is out of date.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from '../src/api/generated-files.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
let stale = 0;

for (const file of generatedFiles()) {
  const path = `${root}${file.path}`;
  const current = await readFile(path, 'utf8').catch(() => '');
  if (current === file.content) continue;
  if (check) {
    console.error(`${file.path} is out of date: run npm run generate`);
    stale++;
  } else {
    await writeFile(path, file.content);
    console.log(`wrote ${file.path}`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
