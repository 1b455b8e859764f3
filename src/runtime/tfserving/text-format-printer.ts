// Writes a text format tree back as text that parseTextFormat reads to the same
// tree (positions aside): for messages written by tools and tests, and for
// showing the config a server runs with.

import type { TextMessage, TextValue } from './text-format.js';

/** Escapes for the characters text format strings cannot hold as they are. */
const ESCAPES: Readonly<Record<string, string>> = {
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '"': '\\"',
  '\\': '\\\\',
};

function quote(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) as number;
    out +=
      ESCAPES[char] ??
      (code < 0x20 || code === 0x7f ? `\\${code.toString(8).padStart(3, '0')}` : char);
  }
  return `${out}"`;
}

/** A float that reads back as a float (never as an integer): 2 is "2.0". */
function float(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (Object.is(value, -0)) return '-0.0';
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

function scalar(value: Exclude<TextValue, TextMessage>): string {
  switch (value.kind) {
    case 'string':
      return quote(value.value);
    case 'integer':
      return value.value.toString();
    case 'float':
      return float(value.value);
    case 'identifier':
      return value.value;
  }
}

function lines(message: TextMessage, indent: string, out: string[]): void {
  for (const field of message.fields) {
    for (const value of field.values) {
      if (value.kind === 'message') {
        out.push(`${indent}${field.name} {`);
        lines(value, `${indent}  `, out);
        out.push(`${indent}}`);
      } else {
        out.push(`${indent}${field.name}: ${scalar(value)}`);
      }
    }
  }
}

/** The message in text format, one field a line, nested messages indented by two spaces. */
export function printTextFormat(message: TextMessage): string {
  const out: string[] = [];
  lines(message, '', out);
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
