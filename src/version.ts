// Tensorfleet's version (operator and runtime ship together), read once from package.json.
import { readFileSync } from 'node:fs';

function read(): string {
  try {
    // src/version.ts and dist/version.js both sit one level below package.json.
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      name?: string;
      version?: string;
    };
    if (pkg.name === 'tensorfleet' && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // not found: an unversioned build
  }
  return '0.0.0';
}

export const VERSION = read();
