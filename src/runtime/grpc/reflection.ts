// Server reflection (grpcurl, Postman, grpcio-reflection) over the vendored
// services. The file descriptors it serves come from protobufjs (through
// proto-loader), which writes them in a form protobuf's own descriptor pools
// refuse; they are repaired here before @grpc/reflection serves them:
// - a message's reserved and extension ranges get the exclusive end that
//   descriptor.proto specifies (protobufjs writes `reserved 4;` as the empty
//   range [4, 4): "Reserved range (4, 4) is invalid" for
//   tensorflow.serving.PredictRequest);
// - map entry types get protoc's names (<Field>Entry), which pools check;
// - type references become fully qualified, and each file lists the files it
//   uses as dependencies (protobufjs writes one file per package, with
//   relative names and no imports: "couldn't resolve name 'Example'").

import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { IDescriptorProto, IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';
import type { GrpcTransport } from './transport/server.js';

/** protoc's name for a map field's entry type: map_field -> MapFieldEntry. */
function mapEntryName(field: string): string {
  return `${field.replace(/(^|_)([a-z0-9])/g, (_m, _u: string, c: string) => c.toUpperCase())}Entry`;
}

function repairMessage(message: IDescriptorProto): void {
  for (const range of [...(message.reservedRange ?? []), ...(message.extensionRange ?? [])]) {
    if (range.end !== undefined && range.end !== null) range.end += 1;
  }
  const nested = message.nestedType ?? [];
  for (const field of message.field ?? []) {
    const entry = nested.find((n) => n.name === field.typeName && n.options?.mapEntry === true);
    if (entry === undefined || field.name === undefined || field.name === null) continue;
    entry.name = mapEntryName(field.name);
    field.typeName = entry.name;
  }
  for (const n of nested) repairMessage(n);
}

const join = (scope: string, name: string): string => (scope === '' ? name : `${scope}.${name}`);
const parent = (scope: string): string => scope.slice(0, Math.max(0, scope.lastIndexOf('.')));

/** Every type and service a file defines, by fully qualified name. */
function indexFile(file: IFileDescriptorProto, symbols: Map<string, string>): void {
  const name = file.name ?? '';
  const visit = (scope: string, message: IDescriptorProto): void => {
    const fqn = join(scope, message.name ?? '');
    symbols.set(fqn, name);
    for (const e of message.enumType ?? []) symbols.set(join(fqn, e.name ?? ''), name);
    for (const n of message.nestedType ?? []) visit(fqn, n);
  };
  const pkg = file.package ?? '';
  for (const m of file.messageType ?? []) visit(pkg, m);
  for (const e of file.enumType ?? []) symbols.set(join(pkg, e.name ?? ''), name);
  for (const s of file.service ?? []) symbols.set(join(pkg, s.name ?? ''), name);
}

/** Qualifies the file's type references (protobuf's scoping rules) and records its dependencies. */
function qualify(file: IFileDescriptorProto, symbols: Map<string, string>): void {
  const deps = new Set<string>();
  const resolve = (ref: string | null | undefined, scope: string): string | undefined => {
    if (ref === undefined || ref === null || ref === '') return undefined;
    let found: string | undefined;
    if (ref.startsWith('.')) found = symbols.has(ref.slice(1)) ? ref.slice(1) : undefined;
    else {
      for (let s = scope; found === undefined; s = parent(s)) {
        if (symbols.has(join(s, ref))) found = join(s, ref);
        if (s === '') break;
      }
    }
    if (found === undefined) return ref;
    const owner = symbols.get(found);
    if (owner !== undefined && owner !== file.name) deps.add(owner);
    return `.${found}`;
  };
  const visit = (scope: string, message: IDescriptorProto): void => {
    const fqn = join(scope, message.name ?? '');
    for (const field of message.field ?? []) {
      const ref = resolve(field.typeName, fqn);
      if (ref !== undefined) field.typeName = ref;
    }
    for (const n of message.nestedType ?? []) visit(fqn, n);
  };
  const pkg = file.package ?? '';
  for (const m of file.messageType ?? []) visit(pkg, m);
  for (const s of file.service ?? []) {
    for (const m of s.method ?? []) {
      m.inputType = resolve(m.inputType, pkg) ?? m.inputType;
      m.outputType = resolve(m.outputType, pkg) ?? m.outputType;
    }
  }
  file.dependency = [...deps].sort();
}

/** The files of a package definition, repaired (each is shared by many entries: decoded once). */
export function repairedDefinition(pkg: PackageDefinition): PackageDefinition {
  const decoded = new Map<Buffer, IFileDescriptorProto>();
  const files = new Map<string, IFileDescriptorProto>();
  for (const entry of Object.values(pkg)) {
    const list = (entry as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
    if (!Array.isArray(list)) continue;
    for (const bytes of list as Buffer[]) {
      if (decoded.has(bytes)) continue;
      const file = descriptor.FileDescriptorProto.toObject(
        descriptor.FileDescriptorProto.decode(bytes),
      ) as IFileDescriptorProto;
      // Files of the same package are the same file, written once per entry.
      const name = file.name ?? '';
      const same = files.get(name);
      if (same === undefined) files.set(name, file);
      decoded.set(bytes, same ?? file);
    }
  }
  const symbols = new Map<string, string>();
  for (const file of files.values()) {
    for (const m of file.messageType ?? []) repairMessage(m);
    indexFile(file, symbols);
  }
  for (const file of files.values()) qualify(file, symbols);
  const encoded = new Map<IFileDescriptorProto, Buffer>();
  const encode = (bytes: Buffer): Buffer => {
    const file = decoded.get(bytes) as IFileDescriptorProto;
    let out = encoded.get(file);
    if (out === undefined) {
      out = Buffer.from(
        descriptor.FileDescriptorProto.encode(
          descriptor.FileDescriptorProto.fromObject(file),
        ).finish(),
      );
      encoded.set(file, out);
    }
    return out;
  };
  // Message and enum entries carry their files; service entries (method maps) do not.
  return Object.fromEntries(
    Object.entries(pkg).map(([name, entry]) => {
      const list = (entry as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
      return [
        name,
        Array.isArray(list)
          ? { ...entry, fileDescriptorProtos: (list as Buffer[]).map(encode) }
          : entry,
      ];
    }),
  ) as PackageDefinition;
}

export function addReflection(server: GrpcTransport, pkg: PackageDefinition): void {
  // addToServer only calls server.addService(definition, { ServerReflectionInfo })
  // with a handler that uses the call's 'data'/'end' events, write() and end():
  // the transport's duplex calls offer exactly that.
  const target = server as unknown as Parameters<ReflectionService['addToServer']>[0];
  new ReflectionService(repairedDefinition(pkg)).addToServer(target);
}
