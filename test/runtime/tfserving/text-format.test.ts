// The protobuf text format parser: TF Serving's documented config files, every
// kind of value, positions, and every error with its line and column.

import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/runtime/errors.js';
import type { TextMessage, TextValue } from '../../../src/runtime/tfserving/text-format.js';
import {
  MAX_TEXT_FORMAT_DEPTH,
  parseTextFormat,
} from '../../../src/runtime/tfserving/text-format.js';
import { printTextFormat } from '../../../src/runtime/tfserving/text-format-printer.js';

/** The tree as plain data without positions: field name -> values. */
type Plain = string | bigint | number | { identifier: string } | { [field: string]: Plain[] };

function plain(value: TextValue): Plain {
  switch (value.kind) {
    case 'message':
      return Object.fromEntries(value.fields.map((f) => [f.name, f.values.map(plain)]));
    case 'identifier':
      return { identifier: value.value };
    default:
      return value.value;
  }
}

const parse = (text: string): Plain => plain(parseTextFormat(text, 'test.config'));

function errorOf(text: string): string {
  try {
    parseTextFormat(text, 'model_config_file');
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe('CONFIG_INVALID');
    return (err as RuntimeError).message;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

describe('text format: TF Serving documented files (serving_config.md)', () => {
  it('reads the multi-model config example', () => {
    expect(
      parse(`model_config_list {
  config {
    name: 'my_first_model'
    base_path: '/tmp/my_first_model/'
    model_platform: 'tensorflow'
  }
  config {
    name: 'my_second_model'
    base_path: '/tmp/my_second_model/'
    model_platform: 'tensorflow'
  }
}`),
    ).toEqual({
      model_config_list: [
        {
          config: [
            {
              name: ['my_first_model'],
              base_path: ['/tmp/my_first_model/'],
              model_platform: ['tensorflow'],
            },
            {
              name: ['my_second_model'],
              base_path: ['/tmp/my_second_model/'],
              model_platform: ['tensorflow'],
            },
          ],
        },
      ],
    });
  });

  it('reads a version policy with labels', () => {
    expect(
      parse(`model_version_policy {
  specific {
    versions: 42
    versions: 43
  }
}
version_labels {
  key: 'stable'
  value: 42
}
version_labels {
  key: 'canary'
  value: 43
}`),
    ).toEqual({
      model_version_policy: [{ specific: [{ versions: [42n, 43n] }] }],
      version_labels: [
        { key: ['stable'], value: [42n] },
        { key: ['canary'], value: [43n] },
      ],
    });
  });

  it('reads the monitoring example, whose fields end with a comma', () => {
    expect(
      parse(`prometheus_config {
  enable: true,
  path: "/monitoring/prometheus/metrics"
}`),
    ).toEqual({
      prometheus_config: [
        { enable: [{ identifier: 'true' }], path: ['/monitoring/prometheus/metrics'] },
      ],
    });
  });

  it('reads the batching example', () => {
    expect(
      parse(`max_batch_size { value: 128 }
batch_timeout_micros { value: 0 }
max_enqueued_batches { value: 1000000 }
num_batch_threads { value: 8 }`),
    ).toEqual({
      max_batch_size: [{ value: [128n] }],
      batch_timeout_micros: [{ value: [0n] }],
      max_enqueued_batches: [{ value: [1000000n] }],
      num_batch_threads: [{ value: [8n] }],
    });
  });
});

describe('text format: values', () => {
  it('decodes strings in both quotes with C escapes', () => {
    expect(parse(`a: "x\\n\\t\\\\\\"\\'y" b: 'it\\'s "q"' c: "\\a\\b\\f\\v\\r\\?"`)).toEqual({
      a: ['x\n\t\\"\'y'],
      b: [`it's "q"`],
      c: ['\x07\b\f\v\r?'],
    });
  });

  it('decodes octal, hex and Unicode escapes, as UTF-8 bytes', () => {
    expect(
      parse(`a: "\\101\\0\\7\\x41\\x4a\\xC3\\xA9" b: "\\u00e9\\U0001F600\\ud83d\\ude00"`),
    ).toEqual({ a: ['A\0\x07AJé'], b: ['é😀😀'] });
  });

  it('joins adjacent string literals, across lines and quote kinds, at the byte level', () => {
    expect(parse(`a: "ab" 'cd'\n  "ef" b: "\\xC3" "\\xA9"`)).toEqual({ a: ['abcdef'], b: ['é'] });
  });

  it('keeps non-ASCII text and a leading byte order mark inside a string', () => {
    expect(parse(`a: "modèle 模型" b: "\\xEF\\xBB\\xBFx"`)).toEqual({
      a: ['modèle 模型'],
      b: ['\uFEFFx'],
    });
  });

  it('reads decimal, hexadecimal, octal and negative integers of any size', () => {
    expect(
      parse('a: 0 a: 42 a: -7 a: 0x1F a: 0X1f a: -0x10 a: 017 a: 18446744073709551615'),
    ).toEqual({ a: [0n, 42n, -7n, 31n, 31n, -16n, 15n, 18446744073709551615n] });
  });

  it('reads floats, with exponents, an f suffix, and inf and nan', () => {
    expect(
      parse('a: 1.5 a: -2.25 a: .5 a: 1. a: 1e3 a: 2E-2 a: 1.5f a: 3F a: -inf a: -nan'),
    ).toEqual({
      a: [1.5, -2.25, 0.5, 1, 1000, 0.02, 1.5, 3, -Infinity, NaN],
    });
    // Unsigned words stay words: the reader of the field decides.
    expect(parse('a: inf b: nan')).toEqual({
      a: [{ identifier: 'inf' }],
      b: [{ identifier: 'nan' }],
    });
  });

  it('keeps bools and enum values as identifiers', () => {
    expect(parse('a: true a: True a: t a: false b: TENSORFLOW')).toEqual({
      a: [
        { identifier: 'true' },
        { identifier: 'True' },
        { identifier: 't' },
        { identifier: 'false' },
      ],
      b: [{ identifier: 'TENSORFLOW' }],
    });
  });

  it('takes messages in braces or angle brackets, with or without a colon', () => {
    expect(parse('a { x: 1 } a: { x: 2 } a < x: 3 > a: < >')).toEqual({
      a: [{ x: [1n] }, { x: [2n] }, { x: [3n] }, {}],
    });
  });

  it('takes lists of scalars and of messages', () => {
    expect(parse('v: [1, 2, -3] v: [] m [ { x: 1 }, < x: 2 > ] n: [{}]')).toEqual({
      v: [1n, 2n, -3n],
      m: [{ x: [1n] }, { x: [2n] }],
      n: [{}],
    });
  });

  it('joins the values of a field written more than once, in order, at its first place', () => {
    const tree = parseTextFormat('a: 1\nb: 2\na: 3\n', 'f');
    expect(tree.fields.map((f) => f.name)).toEqual(['a', 'b']);
    expect(plain(tree)).toEqual({ a: [1n, 3n], b: [2n] });
  });

  it('skips comments, blank lines, separators, CRLF line ends and a byte order mark', () => {
    expect(parse('\uFEFF# header\r\n\r\na: 1; # one\r\n  b: "#not a comment",\r\n#end')).toEqual({
      a: [1n],
      b: ['#not a comment'],
    });
  });

  it('reads an empty file, or one of only comments, as an empty message', () => {
    expect(parse('')).toEqual({});
    expect(parse('  # nothing\n\n')).toEqual({});
  });
});

describe('text format: positions', () => {
  it('keeps the 1-based line and column of fields, values and messages', () => {
    const tree = parseTextFormat('model_config_list {\n  config {\n    name: "m"\n  }\n}\n', 'f');
    const list = tree.fields[0];
    expect(list?.position).toEqual({ line: 1, column: 1 });
    const listMessage = list?.values[0] as TextMessage;
    expect(listMessage.position).toEqual({ line: 1, column: 19 });
    const config = listMessage.fields[0];
    expect(config?.position).toEqual({ line: 2, column: 3 });
    const name = (config?.values[0] as TextMessage).fields[0];
    expect(name?.position).toEqual({ line: 3, column: 5 });
    expect(name?.values[0]?.position).toEqual({ line: 3, column: 11 });
  });

  it('puts a negative number at its sign', () => {
    const tree = parseTextFormat('a:  -5', 'f');
    expect(tree.fields[0]?.values[0]?.position).toEqual({ line: 1, column: 5 });
  });
});

describe('text format: errors name the file, line and column', () => {
  const cases: [string, string][] = [
    ['a {', 'line 1, column 4: message opened at line 1, column 3 is not closed with "}"'],
    ['a <\n b: 1 }', 'line 2, column 7: expected a field name, found "}"'],
    ['}', 'line 1, column 1: expected a field name, found "}"'],
    ['a: "x', 'line 1, column 4: string has no closing "'],
    ["a: 'x\n'", "line 1, column 4: string has no closing '"],
    ['a: 12ab', 'line 1, column 4: malformed number "12ab"'],
    ['a: 0x1g', 'line 1, column 4: malformed number "0x1g"'],
    ['a: 1.5.2', 'line 1, column 4: malformed number "1.5.2"'],
    ['a: 08', 'line 1, column 4: malformed number "08" (a leading 0 makes it octal)'],
    ['a: "\\q"', 'line 1, column 5: unknown escape \\q'],
    ['a: "ab\\400"', 'line 1, column 7: octal escape \\400 is larger than a byte (\\377)'],
    ['a: "\\xZZ"', 'line 1, column 5: \\x must be followed by one or two hex digits'],
    ['a: "\\u12"', 'line 1, column 5: \\u must be followed by 4 hex digits'],
    ['a: "\\U00110000"', 'line 1, column 5: \\U00110000 is not a Unicode character'],
    ['a: "\\ud83d"', 'line 1, column 5: \\ud83d is half of a surrogate pair'],
    ['a: "\\udc00"', 'line 1, column 5: \\udc00 is not a Unicode character'],
    ['a: "\\xff"', 'line 1, column 4: string is not valid UTF-8'],
    [
      '[ext.field]: 1',
      'line 1, column 1: extension and Any fields ("[type.url]") are not supported',
    ],
    [
      'any { [type.googleapis.com/x.Y] { } }',
      'line 1, column 7: extension and Any fields ("[type.url]") are not supported',
    ],
    ['a 1', 'line 1, column 3: expected ":" or "{" after field name "a", found "1"'],
    ['a "s"', 'line 1, column 3: expected ":" or "{" after field name "a", found a string'],
    ['a', 'line 1, column 2: expected ":" or "{" after field name "a", found the end of the file'],
    ['a:', 'line 1, column 3: expected a value, found the end of the file'],
    ['a: }', 'line 1, column 4: expected a value, found "}"'],
    ['a: -b', 'line 1, column 5: expected a value, found "b"'],
    ['a: [1 2]', 'line 1, column 7: expected "," between list elements, found "2"'],
    ['a: [1,', 'line 1, column 7: list is not closed with "]"'],
    ['a [1]', 'line 1, column 4: a list of values needs a ":" after the field name "a"'],
    ['a: [{}', 'line 1, column 7: expected "," between list elements, found the end of the file'],
    ['a: 1 @', 'line 1, column 6: unexpected character "@"'],
    ['\n\n   a: 1 b: $', 'line 3, column 12: unexpected character "$"'],
    ['a: 1 ,, b: 2', 'line 1, column 7: expected a field name, found ","'],
  ];
  it.each(cases)('%j', (text, message) => {
    expect(errorOf(text)).toContain(`model_config_file ${message}`);
  });

  it(`refuses messages nested deeper than ${MAX_TEXT_FORMAT_DEPTH} (not a stack overflow)`, () => {
    expect(
      parseTextFormat('a {'.repeat(MAX_TEXT_FORMAT_DEPTH - 1) + '}'.repeat(99), 'f'),
    ).toBeTruthy();
    const deep = 'a {'.repeat(100_000);
    expect(errorOf(deep)).toMatch(/line 1, column \d+: messages nested more than 100 deep/);
  });
});

describe('text format printer', () => {
  it('prints what the parser reads back the same', () => {
    const text = `z: "q\\"\\\\\\n\\001\\177é" i: -0x10 f: 2.0 f: -0.0 f: 1e+21 f: -inf f: nan e: ENUM_X
m { n { v: [1, 2] } } m <>`;
    const tree = parseTextFormat(text, 'f');
    const printed = printTextFormat(tree);
    expect(printed).toBe(`z: "q\\"\\\\\\n\\001\\177é"
i: -16
f: 2.0
f: -0.0
f: 1e+21
f: -inf
f: nan
e: ENUM_X
m {
  n {
    v: 1
    v: 2
  }
}
m {
}
`);
    expect(plain(parseTextFormat(printed, 'f'))).toEqual(plain(tree));
  });
});
