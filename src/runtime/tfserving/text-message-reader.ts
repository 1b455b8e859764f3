// Typed reads of one text format message against the fields its .proto
// declares: a field the message type does not have is an error naming it and
// where it is, a singular field written twice is an error (as in protobuf's own
// parser), a value of the wrong kind is an error saying what was expected.
// The config readers (model-server-config.ts, batching-parameters.ts,
// monitoring-config.ts) decide what each field means to Tensorfleet.

import type { RuntimeError } from '../errors.js';
import type { TextField, TextMessage, TextPosition, TextString, TextValue } from './text-format.js';
import { textFormatError } from './text-format.js';

export type IntegerType = 'int32' | 'uint32' | 'int64' | 'uint64';

const INTEGER_RANGES: Readonly<Record<IntegerType, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

function describeValue(value: TextValue): string {
  switch (value.kind) {
    case 'message':
      return 'a message';
    case 'string':
      return `the string ${JSON.stringify(value.value)}`;
    case 'identifier':
      return JSON.stringify(value.value);
    case 'integer':
    case 'float':
      return `the number ${String(value.value)}`;
  }
}

export class TextMessageReader {
  private readonly byName: ReadonlyMap<string, TextField>;

  /**
   * `fields`: every field of `typeName` in its .proto (TF Serving's spelling),
   * each supported or with the reason Tensorfleet refuses it.
   */
  constructor(
    readonly textMessage: TextMessage,
    readonly source: string,
    readonly typeName: string,
    fields: Readonly<Record<string, 'supported' | { readonly refused: string }>>,
  ) {
    this.byName = new Map(textMessage.fields.map((f) => [f.name, f]));
    for (const field of textMessage.fields) {
      const rule = fields[field.name];
      if (rule === undefined || !Object.hasOwn(fields, field.name)) {
        throw this.error(
          field.position,
          `${typeName} has no field ${JSON.stringify(field.name)} (its fields: ${Object.keys(fields).join(', ')})`,
        );
      }
      if (rule !== 'supported') {
        throw this.error(
          field.position,
          `${this.what(field.name)} is not supported by Tensorfleet: ${rule.refused}`,
        );
      }
    }
  }

  /** `ModelConfig.base_path`: how messages name a field. */
  what(name: string): string {
    return `${this.typeName}.${name}`;
  }

  error(position: TextPosition, message: string): RuntimeError {
    return textFormatError(this.source, position, message);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Where the field is written, or the message's own position when it is not. */
  positionOf(name: string): TextPosition {
    return this.byName.get(name)?.position ?? this.textMessage.position;
  }

  /** All values of a repeated field (or a map's entries). */
  values(name: string): readonly TextValue[] {
    return this.byName.get(name)?.values ?? [];
  }

  /** The value of a singular field; written twice is an error, as in protobuf. */
  single(name: string): TextValue | undefined {
    const values = this.values(name);
    const second = values[1];
    if (second !== undefined) {
      throw this.error(
        second.position,
        `${this.what(name)} is set more than once (it is not a repeated field)`,
      );
    }
    return values[0];
  }

  /** The one field of a oneof that is set, or undefined; two set is an error, as in protobuf. */
  oneof(names: readonly string[]): string | undefined {
    const set = names.filter((n) => this.has(n));
    const [first, second] = set;
    if (second !== undefined && first !== undefined) {
      throw this.error(
        this.positionOf(second),
        `${this.what(second)} and ${this.what(first)} are alternatives (a oneof): set only one`,
      );
    }
    return first;
  }

  string(name: string): string | undefined {
    const value = this.single(name);
    return value === undefined ? undefined : this.asString(value, name).value;
  }

  asString(value: TextValue, name: string): TextString {
    if (value.kind !== 'string') {
      throw this.error(
        value.position,
        `${this.what(name)} must be a quoted string, found ${describeValue(value)}`,
      );
    }
    return value;
  }

  integer(name: string, type: IntegerType): bigint | undefined {
    const value = this.single(name);
    return value === undefined ? undefined : this.asInteger(value, name, type);
  }

  integers(name: string, type: IntegerType): bigint[] {
    return this.values(name).map((v) => this.asInteger(v, name, type));
  }

  asInteger(value: TextValue, name: string, type: IntegerType): bigint {
    if (value.kind !== 'integer') {
      throw this.error(
        value.position,
        `${this.what(name)} must be an integer (${type}), found ${describeValue(value)}`,
      );
    }
    const [min, max] = INTEGER_RANGES[type];
    if (value.value < min || value.value > max) {
      throw this.error(
        value.position,
        `${this.what(name)} is ${value.value}, out of the range of ${type} (${min} to ${max})`,
      );
    }
    return value.value;
  }

  /** true/True/t/1 and false/False/f/0, as protobuf reads a bool. */
  bool(name: string): boolean | undefined {
    const value = this.single(name);
    return value === undefined ? undefined : this.asBool(value, name);
  }

  asBool(value: TextValue, name: string): boolean {
    if (value.kind === 'identifier' && ['true', 'True', 't'].includes(value.value)) return true;
    if (value.kind === 'identifier' && ['false', 'False', 'f'].includes(value.value)) return false;
    if (value.kind === 'integer' && (value.value === 0n || value.value === 1n)) {
      return value.value === 1n;
    }
    throw this.error(
      value.position,
      `${this.what(name)} must be true or false, found ${describeValue(value)}`,
    );
  }

  message(name: string): TextMessage | undefined {
    const value = this.single(name);
    return value === undefined ? undefined : this.asMessage(value, name);
  }

  messages(name: string): TextMessage[] {
    return this.values(name).map((v) => this.asMessage(v, name));
  }

  asMessage(value: TextValue, name: string): TextMessage {
    if (value.kind !== 'message') {
      throw this.error(
        value.position,
        `${this.what(name)} is a message: write ${name} { ... }, not ${name}: ${describeValue(value)}`,
      );
    }
    return value;
  }

  /** A google.protobuf.*Value wrapper (`max_batch_size { value: 128 }`), as an integer. */
  wrappedInteger(name: string, type: 'int32' | 'int64'): bigint | undefined {
    const inner = this.wrapper(name, type === 'int32' ? 'Int32Value' : 'Int64Value', '128');
    return inner?.integer('value', type) ?? (inner === undefined ? undefined : 0n);
  }

  wrappedBool(name: string): boolean | undefined {
    const inner = this.wrapper(name, 'BoolValue', 'true');
    return inner?.bool('value') ?? (inner === undefined ? undefined : false);
  }

  wrappedString(name: string): string | undefined {
    const inner = this.wrapper(name, 'StringValue', '"name"');
    return inner?.string('value') ?? (inner === undefined ? undefined : '');
  }

  private wrapper(name: string, type: string, example: string): TextMessageReader | undefined {
    const value = this.single(name);
    if (value === undefined) return undefined;
    if (value.kind !== 'message') {
      throw this.error(
        value.position,
        `${this.what(name)} is a google.protobuf.${type}: write ${name} { value: ${example} }`,
      );
    }
    return new TextMessageReader(value, this.source, `${this.what(name)} (${type})`, {
      value: 'supported',
    });
  }
}
