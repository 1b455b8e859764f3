// The runtime's version, read once from package.json.

import { readFileSync } from 'node:fs';

function read(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'tensorfleet' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next location (src/ vs dist/ layouts differ by one level)
    }
  }
  return '0.0.0';
}

export const RUNTIME_VERSION = read();
