// The CUDA architecture reader (scripts/cuda-archs.ts): fat binaries built
// here byte by byte, and the real libraries where setup:native has unpacked
// them (the CPU build carries no GPU code, the GPU build code up to sm_90).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaArchs, fatbinArchs } from '../../scripts/cuda-archs.js';
import { nativeSkipReason, nativeStatus } from '../runtime/native.js';

/** One fat binary: header, then entries of (kind, arch, payload bytes). */
function fatbin(entries: Array<[kind: number, arch: number, payload: number]>): Buffer {
  const parts = entries.map(([kind, arch, payload]) => {
    const header = Buffer.alloc(64);
    header.writeUInt16LE(kind, 0);
    header.writeUInt32LE(64, 4);
    header.writeBigUInt64LE(BigInt(payload), 8);
    header.writeUInt32LE(arch, 28);
    return Buffer.concat([header, Buffer.alloc(payload, 0xab)]);
  });
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(16);
  head.writeUInt32LE(0xba55ed50, 0);
  head.writeUInt16LE(1, 4);
  head.writeUInt16LE(16, 6);
  head.writeBigUInt64LE(BigInt(body.length), 8);
  const out = Buffer.concat([head, body]);
  return Buffer.concat([out, Buffer.alloc((8 - (out.length % 8)) % 8)]);
}

describe('reading CUDA architectures from .nv_fatbin', () => {
  it('lists machine code and PTX of every fat binary, sorted, once each', () => {
    const section = Buffer.concat([
      fatbin([
        [2, 80, 100],
        [2, 90, 8],
        [1, 90, 13],
      ]),
      Buffer.alloc(24), // padding between fat binaries
      fatbin([
        [2, 50, 3],
        [2, 90, 40],
      ]),
    ]);
    expect(fatbinArchs(section)).toEqual({
      cubin: ['sm_50', 'sm_80', 'sm_90'],
      ptx: ['compute_90'],
    });
    expect(fatbinArchs(Buffer.alloc(64))).toEqual({ cubin: [], ptx: [] });
  });

  it('refuses what is not a 64-bit ELF file', () => {
    expect(() => cudaArchs(new URL(import.meta.url).pathname)).toThrow('not an ELF file');
  });

  const skip = nativeSkipReason();
  it.skipIf(skip !== undefined)(
    'finds no GPU code in the CPU build and code up to Hopper in the GPU build',
    () => {
      const status = nativeStatus();
      if (!status.available) throw new Error(status.reason);
      const lib = (dir: string) => join(dir, 'lib', 'libtensorflow_cc.so.2');
      expect(cudaArchs(lib(status.manifest.libtensorflow))).toEqual({ cubin: [], ptx: [] });
      const gpu = cudaArchs(lib(status.manifest.gpu.libtensorflow));
      expect(gpu.cubin).toEqual(expect.arrayContaining(['sm_70', 'sm_80', 'sm_90']));
      expect(gpu.ptx).toContain('compute_90');
    },
  );
});
