// Protocol buffer text format, as TF Serving reads its config files
// (--model_config_file, --batching_parameters_file, --monitoring_config_file),
// parsed into a generic tree without a schema: the readers of each file
// (model-server-config.ts, batching-parameters.ts, monitoring-config.ts) give
// the fields their meaning. Every node keeps its line and column so that a
// reader's error points at the place in the file, as a parse error does.
//
// Grammar (protobuf's text format language specification, the parts config
// files use):
//   message  = { field [ "," | ";" ] }
//   field    = name ":" ( scalar | "[" [ scalar { "," scalar } ] "]" )
//            | name [ ":" ] ( block | "[" [ block { "," block } ] "]" )
//   block    = "{" message "}" | "<" message ">"
//   scalar   = string { string } | [ "-" ] number | [ "-" ] identifier
// Extension and Any fields (`[type.googleapis.com/...]`) are refused: no
// message Tensorfleet reads has them.

import { RuntimeError } from '../errors.js';

/** 1-based line and column (columns count UTF-16 code units, tabs as one). */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

export interface TextString {
  readonly kind: 'string';
  /** Escapes decoded, adjacent literals joined; the bytes were valid UTF-8. */
  readonly value: string;
  readonly position: TextPosition;
}

/** Decimal, hexadecimal (0x) or octal (leading 0), with its sign applied. */
export interface TextInteger {
  readonly kind: 'integer';
  readonly value: bigint;
  readonly position: TextPosition;
}

/** A number with a fraction, an exponent or an `f` suffix, or `-inf`/`-nan`. */
export interface TextFloat {
  readonly kind: 'float';
  readonly value: number;
  readonly position: TextPosition;
}

/** A bare word: `true`, an enum value name, `inf`; its meaning is the reader's. */
export interface TextIdentifier {
  readonly kind: 'identifier';
  readonly value: string;
  readonly position: TextPosition;
}

export interface TextMessage {
  readonly kind: 'message';
  /** Of its opening `{` or `<` (1:1 for a whole file). */
  readonly position: TextPosition;
  /** One entry per field name, in order of first appearance. */
  readonly fields: readonly TextField[];
}

export type TextScalar = TextString | TextInteger | TextFloat | TextIdentifier;
export type TextValue = TextScalar | TextMessage;

export interface TextField {
  readonly name: string;
  /** Where the name first appears. */
  readonly position: TextPosition;
  /** Every value given, in order: a field written twice has two. */
  readonly values: readonly TextValue[];
}

/** Deeper nesting than protobuf's own parser allows (100) is refused, not a stack overflow. */
export const MAX_TEXT_FORMAT_DEPTH = 100;

/** The error every config-file problem becomes: `<source> line L, column C: <message>`. */
export function textFormatError(
  source: string,
  position: TextPosition,
  message: string,
): RuntimeError {
  return new RuntimeError(
    'CONFIG_INVALID',
    `${source} line ${position.line}, column ${position.column}: ${message}`,
  );
}

type TokenKind = 'identifier' | 'number' | 'string' | 'symbol' | 'end';

interface Token {
  readonly kind: TokenKind;
  /** The source text (for strings: with quotes and escapes as written). */
  readonly text: string;
  readonly position: TextPosition;
}

const IDENTIFIER_START = /[A-Za-z_]/;
const IDENTIFIER_PART = /[A-Za-z0-9_]/;
const DIGIT = /[0-9]/;
const SYMBOLS = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-']);

/** Splits text into tokens, skipping whitespace and `#` comments. */
class Tokenizer {
  private index = 0;
  private line = 1;
  private lineStart = 0;

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {
    if (text.startsWith('\uFEFF')) this.index = 1;
  }

  next(): Token {
    this.skipBlanks();
    const position = this.position();
    const start = this.index;
    const c = this.text[this.index];
    if (c === undefined) return { kind: 'end', text: '', position };
    if (IDENTIFIER_START.test(c)) {
      this.index++;
      while (IDENTIFIER_PART.test(this.text[this.index] ?? '')) this.index++;
      return { kind: 'identifier', text: this.text.slice(start, this.index), position };
    }
    if (DIGIT.test(c) || (c === '.' && DIGIT.test(this.text[this.index + 1] ?? ''))) {
      return { kind: 'number', text: this.number(position), position };
    }
    if (c === '"' || c === "'") return { kind: 'string', text: this.string(c, position), position };
    if (SYMBOLS.has(c)) {
      this.index++;
      return { kind: 'symbol', text: c, position };
    }
    throw textFormatError(this.source, position, `unexpected character ${JSON.stringify(c)}`);
  }

  private position(): TextPosition {
    return { line: this.line, column: this.index - this.lineStart + 1 };
  }

  private skipBlanks(): void {
    for (;;) {
      const c = this.text[this.index];
      if (c === '\n') {
        this.index++;
        this.line++;
        this.lineStart = this.index;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        this.index++;
      } else if (c === '#') {
        while (this.index < this.text.length && this.text[this.index] !== '\n') this.index++;
      } else {
        return;
      }
    }
  }

  /** A number's text; its value is read by the parser (which knows about a leading "-"). */
  private number(position: TextPosition): string {
    const start = this.index;
    const rest = this.text.slice(start);
    const match =
      /^0[xX][0-9A-Fa-f]+/.exec(rest) ??
      /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?/.exec(rest);
    const text = match?.[0] ?? '';
    this.index += text.length;
    // "12abc", "0x1g", "1.5.2": one malformed token, not a number and a name.
    if (/[A-Za-z0-9_.]/.test(this.text[this.index] ?? '')) {
      let end = this.index;
      while (/[A-Za-z0-9_.]/.test(this.text[end] ?? '')) end++;
      throw textFormatError(
        this.source,
        position,
        `malformed number ${JSON.stringify(this.text.slice(start, end))}`,
      );
    }
    return text;
  }

  /** A quoted literal as written; a newline or the end of the text before the quote is an error. */
  private string(quote: string, position: TextPosition): string {
    const start = this.index;
    this.index++;
    for (;;) {
      const c = this.text[this.index];
      if (c === undefined || c === '\n') {
        throw textFormatError(this.source, position, `string has no closing ${quote}`);
      }
      this.index += c === '\\' && this.text[this.index + 1] !== '\n' ? 2 : 1;
      if (c === quote) return this.text.slice(start, this.index);
    }
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  n: 0x0a,
  t: 0x09,
  r: 0x0d,
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  v: 0x0b,
  '\\': 0x5c,
  "'": 0x27,
  '"': 0x22,
  '?': 0x3f,
};

const utf8 = new TextEncoder();
// ignoreBOM: a string that starts with \xEF\xBB\xBF keeps that character.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes a literal stands for (C escapes: \n \t \\ \" \' \NNN octal, \xNN hex, \uNNNN, \UNNNNNNNN). */
function literalBytes(token: Token, source: string, into: number[]): void {
  const body = token.text.slice(1, -1);
  const fail = (offset: number, message: string): never => {
    throw textFormatError(
      source,
      { line: token.position.line, column: token.position.column + 1 + offset },
      message,
    );
  };
  for (let i = 0; i < body.length;) {
    const c = body[i] as string;
    if (c !== '\\') {
      const codePoint = body.codePointAt(i) as number;
      const char = String.fromCodePoint(codePoint);
      into.push(...utf8.encode(char));
      i += char.length;
      continue;
    }
    const e = body[i + 1] ?? '';
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      into.push(simple);
      i += 2;
    } else if (/[0-7]/.test(e)) {
      const digits = /^[0-7]{1,3}/.exec(body.slice(i + 1))?.[0] ?? '';
      const byte = parseInt(digits, 8);
      if (byte > 0xff) fail(i, `octal escape \\${digits} is larger than a byte (\\377)`);
      into.push(byte);
      i += 1 + digits.length;
    } else if (e === 'x' || e === 'X') {
      const digits = /^[0-9A-Fa-f]{1,2}/.exec(body.slice(i + 2))?.[0];
      if (digits === undefined) fail(i, '\\x must be followed by one or two hex digits');
      into.push(parseInt(digits as string, 16));
      i += 2 + (digits as string).length;
    } else if (e === 'u' || e === 'U') {
      const width = e === 'u' ? 4 : 8;
      const digits = body.slice(i + 2, i + 2 + width);
      if (!new RegExp(`^[0-9A-Fa-f]{${width}}$`).test(digits)) {
        fail(i, `\\${e} must be followed by ${width} hex digits`);
      }
      let codePoint = parseInt(digits, 16);
      let length = 2 + width;
      // A surrogate pair written as two \u escapes is one character.
      if (codePoint >= 0xd800 && codePoint <= 0xdbff) {
        const low = /^\\u(d[c-f][0-9a-f]{2})/i.exec(body.slice(i + length))?.[1];
        if (low === undefined) fail(i, `\\${e}${digits} is half of a surrogate pair`);
        codePoint = 0x10000 + ((codePoint - 0xd800) << 10) + (parseInt(low as string, 16) - 0xdc00);
        length += 6;
      } else if ((codePoint >= 0xdc00 && codePoint <= 0xdfff) || codePoint > 0x10ffff) {
        fail(i, `\\${e}${digits} is not a Unicode character`);
      }
      into.push(...utf8.encode(String.fromCodePoint(codePoint)));
      i += length;
    } else {
      fail(i, `unknown escape \\${e === '' ? '' : e}`);
    }
  }
}

/** Decimal, 0x hex or 0-prefixed octal integer text, or undefined for a float. */
function integerOf(text: string): bigint | undefined {
  if (/^0[xX]/.test(text)) return BigInt(text);
  if (/^0[0-7]+$/.test(text)) return BigInt(`0o${text.slice(1)}`);
  if (/^[0-9]+$/.test(text)) return BigInt(text);
  return undefined;
}

const FLOAT_WORDS: Readonly<Record<string, number>> = {
  inf: Infinity,
  infinity: Infinity,
  nan: NaN,
};

/** Recursive descent over the tokens; one token of lookahead. */
class Parser {
  private readonly tokens: Tokenizer;
  private token: Token;
  private depth = 0;

  constructor(
    text: string,
    private readonly source: string,
  ) {
    this.tokens = new Tokenizer(text, source);
    this.token = this.tokens.next();
  }

  document(): TextMessage {
    const message = this.message({ line: 1, column: 1 }, undefined);
    return message;
  }

  private advance(): Token {
    const token = this.token;
    this.token = this.tokens.next();
    return token;
  }

  private isSymbol(symbol: string): boolean {
    return this.token.kind === 'symbol' && this.token.text === symbol;
  }

  private fail(token: Token, message: string): never {
    throw textFormatError(this.source, token.position, message);
  }

  private describe(token: Token): string {
    if (token.kind === 'end') return 'the end of the file';
    if (token.kind === 'string') return 'a string';
    return JSON.stringify(token.text);
  }

  private expectSymbol(symbol: string, what: string): void {
    if (!this.isSymbol(symbol)) {
      this.fail(
        this.token,
        `expected ${JSON.stringify(symbol)} ${what}, found ${this.describe(this.token)}`,
      );
    }
    this.advance();
  }

  /** Fields until `close` (undefined: the end of the file). */
  private message(position: TextPosition, close: string | undefined): TextMessage {
    if (++this.depth > MAX_TEXT_FORMAT_DEPTH) {
      this.fail(this.token, `messages nested more than ${MAX_TEXT_FORMAT_DEPTH} deep`);
    }
    const fields = new Map<string, { name: string; position: TextPosition; values: TextValue[] }>();
    for (;;) {
      if (close === undefined ? this.token.kind === 'end' : this.isSymbol(close)) break;
      if (this.token.kind === 'end') {
        this.fail(
          this.token,
          `message opened at line ${position.line}, column ${position.column} is not closed with ${JSON.stringify(close)}`,
        );
      }
      const nameToken = this.fieldName();
      const values = this.fieldValues(nameToken);
      const field = fields.get(nameToken.text);
      if (field === undefined) {
        fields.set(nameToken.text, { name: nameToken.text, position: nameToken.position, values });
      } else {
        field.values.push(...values);
      }
      if (this.isSymbol(',') || this.isSymbol(';')) this.advance();
    }
    if (close !== undefined) this.advance();
    this.depth--;
    return { kind: 'message', position, fields: [...fields.values()] };
  }

  private fieldName(): Token {
    if (this.isSymbol('[')) {
      this.fail(
        this.token,
        'extension and Any fields ("[type.url]") are not supported in Tensorfleet\'s config files',
      );
    }
    if (this.token.kind !== 'identifier') {
      this.fail(this.token, `expected a field name, found ${this.describe(this.token)}`);
    }
    return this.advance();
  }

  private fieldValues(name: Token): TextValue[] {
    const colon = this.isSymbol(':');
    if (colon) this.advance();
    if (this.isSymbol('{') || this.isSymbol('<')) return [this.block()];
    if (this.isSymbol('[')) return this.list(name, colon);
    if (!colon) {
      this.fail(
        this.token,
        `expected ":" or "{" after field name ${JSON.stringify(name.text)}, found ${this.describe(this.token)}`,
      );
    }
    return [this.scalar()];
  }

  private block(): TextMessage {
    const open = this.advance();
    return this.message(open.position, open.text === '{' ? '}' : '>');
  }

  /** `[a, b]`: of scalars after a colon, of messages with or without one. */
  private list(name: Token, colon: boolean): TextValue[] {
    this.advance();
    const values: TextValue[] = [];
    while (!this.isSymbol(']')) {
      if (values.length > 0) this.expectSymbol(',', 'between list elements');
      const isBlock = this.isSymbol('{') || this.isSymbol('<');
      if (!isBlock && !colon) {
        this.fail(
          this.token,
          `a list of values needs a ":" after the field name ${JSON.stringify(name.text)}`,
        );
      }
      if (this.token.kind === 'end') this.fail(this.token, 'list is not closed with "]"');
      values.push(isBlock ? this.block() : this.scalar());
    }
    this.advance();
    return values;
  }

  private scalar(): TextScalar {
    const token = this.token;
    if (token.kind === 'string') return this.strings();
    const negative = this.isSymbol('-');
    if (negative) this.advance();
    const value = this.advance();
    if (value.kind === 'number') {
      if (/^0[0-9]*[89]/.test(value.text)) {
        this.fail(
          value,
          `malformed number ${JSON.stringify(value.text)} (a leading 0 makes it octal)`,
        );
      }
      const integer = integerOf(value.text);
      if (integer !== undefined) {
        return { kind: 'integer', value: negative ? -integer : integer, position: token.position };
      }
      const float = Number(value.text.replace(/[fF]$/, ''));
      return { kind: 'float', value: negative ? -float : float, position: token.position };
    }
    if (value.kind === 'identifier') {
      if (!negative) return { kind: 'identifier', value: value.text, position: token.position };
      const word = FLOAT_WORDS[value.text.toLowerCase()];
      if (word !== undefined) return { kind: 'float', value: -word, position: token.position };
    }
    return this.fail(value, `expected a value, found ${this.describe(value)}`);
  }

  /** Adjacent literals join into one string ("a" 'b' is "ab"), as in C. */
  private strings(): TextString {
    const first = this.token;
    const bytes: number[] = [];
    while (this.token.kind === 'string') literalBytes(this.advance(), this.source, bytes);
    try {
      return {
        kind: 'string',
        value: strictUtf8.decode(new Uint8Array(bytes)),
        position: first.position,
      };
    } catch {
      return this.fail(
        first,
        'string is not valid UTF-8 (its escapes make bytes that are not text)',
      );
    }
  }
}

/**
 * Parses a protobuf text format document. `source` names it in error messages
 * (e.g. `--model_config_file=/models/models.config`). Throws
 * RuntimeError('CONFIG_INVALID', '<source> line L, column C: ...').
 */
export function parseTextFormat(text: string, source: string): TextMessage {
  return new Parser(text, source).document();
}
