// src/runtime/tfserving/ is a parsing layer: it reaches no server, transport,
// model or backend code, so the operator and tools can use it without loading
// any of them. Its only I/O is the default file reader of command-line.ts.

import { readdirSync, readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const DIR = new URL('../../../src/runtime/tfserving/', import.meta.url);

/** Outside its own directory, what the layer may import. */
const ALLOWED = new Set(['../errors.js', '../config.js', 'node:fs']);

describe('src/runtime/tfserving', () => {
  it.each(readdirSync(DIR).filter((f) => f.endsWith('.ts')))(
    '%s imports only the layer, errors and config',
    (file) => {
      const text = readFileSync(new URL(file, DIR), 'utf8');
      const outside = ts
        .preProcessFile(text, true, true)
        .importedFiles.map((i) => i.fileName)
        .filter((name) => !name.startsWith('./') && !ALLOWED.has(name));
      expect(outside).toEqual([]);
    },
  );
});
