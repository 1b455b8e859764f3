// docs/runtime.md's gRPC section stays in step with the code: every runtime
// error code is in its status table with the gRPC status it is answered with.

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/runtime/errors.js';
import type { ErrorCode } from '../../src/runtime/errors.js';
import { GRPC_STATUS } from '../../src/runtime/grpc/status.js';

const doc = await readFile(new URL('../../docs/runtime.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('### gRPC'), doc.indexOf('### Compression'));

describe('docs/runtime.md, gRPC', () => {
  it('has the section', () => {
    expect(section.length).toBeGreaterThan(100);
  });

  it.each(Object.keys(ERROR_CODES) as ErrorCode[])('maps %s to its gRPC status', (code) => {
    const rows = section
      .split('\n')
      .filter(
        (line) => line.startsWith('| ') && (line.split('|')[1] ?? '').includes(`\`${code}\``),
      );
    expect(rows, code).toHaveLength(1);
    const status = rows[0]?.split('|')[2]?.trim();
    expect(status, code).toBe(`\`${GRPC_STATUS[code]}\``);
  });
});
