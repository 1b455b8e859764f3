// Loads examples/ and examples/invalid/ with the expectations their header
// comments declare (`# expect:`, `# check:`, `# field:`).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/', import.meta.url));

export interface Example {
  file: string;
  text: string;
  object: Record<string, unknown>;
}

export interface InvalidExample extends Example {
  /** A substring of the error the API server returns. */
  expect: string;
  /** `schema`: the OpenAPI schema rejects it; `cel`: only a CEL rule does. */
  check: 'schema' | 'cel';
  /** For schema cases: the JSON pointer of the rejected field. */
  field?: string;
}

function load(dir: string): Example[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(`${dir}${file}`, 'utf8');
      return { file, text, object: yaml.load(text) as Record<string, unknown> };
    });
}

export function validExamples(): Example[] {
  return load(EXAMPLES_DIR);
}

function header(text: string, key: string): string | undefined {
  return new RegExp(`^# ${key}: (.+)$`, 'm').exec(text)?.[1]?.trim();
}

export function invalidExamples(): InvalidExample[] {
  return load(`${EXAMPLES_DIR}invalid/`).map((e) => {
    const expect = header(e.text, 'expect');
    const check = header(e.text, 'check');
    if (!expect || (check !== 'schema' && check !== 'cel')) {
      throw new Error(`${e.file}: needs '# expect: <error>' and '# check: schema|cel' headers`);
    }
    return { ...e, expect, check, field: header(e.text, 'field') };
  });
}
