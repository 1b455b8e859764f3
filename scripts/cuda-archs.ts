// The CUDA architectures a shared library carries code for: its `.nv_fatbin`
// section holds fat binaries, each a list of entries of GPU machine code
// (cubin, for one sm_XY) or PTX (compute_XY, compiled by the driver at first
// use on a GPU without matching machine code). What `cuobjdump --list-elf
// --list-ptx` shows, without the CUDA toolkit.
//
// Usage: tsx scripts/cuda-archs.ts <library>   prints e.g. "sm_60 sm_70 ... compute_90"

import { closeSync, openSync, readSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const FATBIN_MAGIC = 0xba55ed50;
const KIND_PTX = 1;
const KIND_CUBIN = 2;

export interface CudaArchs {
  /** Machine code, e.g. "sm_90". */
  cubin: string[];
  /** PTX, e.g. "compute_90". */
  ptx: string[];
}

/** A byte range of a file, read on demand (the libraries are over 1 GB). */
type Read = (offset: number, length: number) => Buffer;

/** The `.nv_fatbin` section of an ELF64 little-endian file, or undefined. */
export function fatbinSection(read: Read): { offset: number; size: number } | undefined {
  const ident = read(0, 64);
  if (ident.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (ident[4] !== 2 || ident[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const shoff = Number(ident.readBigUInt64LE(0x28));
  const shentsize = ident.readUInt16LE(0x3a);
  const shnum = ident.readUInt16LE(0x3c);
  const shstrndx = ident.readUInt16LE(0x3e);
  const headers = read(shoff, shentsize * shnum);
  const section = (i: number) => ({
    name: headers.readUInt32LE(i * shentsize),
    offset: Number(headers.readBigUInt64LE(i * shentsize + 0x18)),
    size: Number(headers.readBigUInt64LE(i * shentsize + 0x20)),
  });
  const strings = section(shstrndx);
  const names = read(strings.offset, strings.size);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const end = names.indexOf(0, s.name);
    if (names.toString('latin1', s.name, end) === '.nv_fatbin') {
      return { offset: s.offset, size: s.size };
    }
  }
  return undefined;
}

/**
 * The architectures in a `.nv_fatbin` section: fat binaries one after the
 * other (each 8-byte aligned), a header (magic, version, header size, size of
 * its entries), then entries (kind, header size, payload size; the
 * architecture at byte 28).
 */
export function fatbinArchs(section: Buffer): CudaArchs {
  const cubin = new Set<number>();
  const ptx = new Set<number>();
  let at = 0;
  while (at + 16 <= section.length) {
    if (section.readUInt32LE(at) !== FATBIN_MAGIC) {
      at += 8;
      continue;
    }
    const headerSize = section.readUInt16LE(at + 6);
    const entriesSize = Number(section.readBigUInt64LE(at + 8));
    const end = Math.min(at + headerSize + entriesSize, section.length);
    let entry = at + headerSize;
    while (entry + 32 <= end) {
      const kind = section.readUInt16LE(entry);
      const entryHeader = section.readUInt32LE(entry + 4);
      const payload = Number(section.readBigUInt64LE(entry + 8));
      const arch = section.readUInt32LE(entry + 28);
      if (kind === KIND_CUBIN) cubin.add(arch);
      else if (kind === KIND_PTX) ptx.add(arch);
      if (entryHeader === 0) break;
      entry += entryHeader + payload;
    }
    at = Math.max(end, at + 8);
    at += (8 - (at % 8)) % 8;
  }
  const sorted = (set: Set<number>, prefix: string) =>
    [...set].sort((a, b) => a - b).map((n) => `${prefix}_${n}`);
  return { cubin: sorted(cubin, 'sm'), ptx: sorted(ptx, 'compute') };
}

/** The architectures a library file carries (none when it has no GPU code). */
export function cudaArchs(file: string): CudaArchs {
  const fd = openSync(file, 'r');
  try {
    const read: Read = (offset, length) => {
      const buf = Buffer.alloc(length);
      const n = readSync(fd, buf, 0, length, offset);
      if (n !== length) throw new Error(`${file}: short read at ${offset}`);
      return buf;
    };
    const section = fatbinSection(read);
    return section === undefined
      ? { cubin: [], ptx: [] }
      : fatbinArchs(read(section.offset, section.size));
  } finally {
    closeSync(fd);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: tsx scripts/cuda-archs.ts <library>\n');
    process.exit(2);
  }
  const { cubin, ptx } = cudaArchs(file);
  process.stdout.write(`${[...cubin, ...ptx].join(' ')}\n`);
}
