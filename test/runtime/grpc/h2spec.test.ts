// h2spec (github.com/summerwind/h2spec, built from Go modules by
// tools/go-tool.sh) against the runtime's own HTTP/2 layer: every case of its
// suite for RFC 7540/9113 and RFC 7541, the strict ones included, each
// sending the frames a broken or hostile client would and checking the
// server's answer (the error code, GOAWAY or RST_STREAM, flow control).

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport } from '../../../src/runtime/grpc/transport/server.js';
import { goTool } from '../../support/go-tool.js';

let server: GrpcTransport;
let port: number;
let dir: string;

beforeAll(async () => {
  server = new GrpcTransport({ maxReceiveBytes: 1 << 20, maxConnectionAgeMs: 0, graceMs: 1000 });
  port = await server.listen('127.0.0.1', 0);
  dir = await mkdtemp(join(tmpdir(), 'h2spec-'));
}, 300_000);

afterAll(async () => {
  await server.close(1000);
  await rm(dir, { recursive: true, force: true });
});

interface Case {
  name: string;
  failure: string | undefined;
}

/** The JUnit report's test cases (h2spec names them by section and description) and their failures. */
function cases(report: string): Case[] {
  const out: Case[] = [];
  const testcase =
    /<testcase package="([^"]*)" classname="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of report.matchAll(testcase)) {
    const failure = /<(failure|error)\b[^>]*>([\s\S]*?)<\/\1>|<(?:failure|error)\b[^>]*\/>/.exec(
      m[3] ?? '',
    );
    out.push({
      name: `${m[1]!}: ${m[2]!}`,
      failure: failure === null ? undefined : (failure[2] ?? 'failed'),
    });
  }
  return out;
}

describe('h2spec', () => {
  it('passes every case of the HTTP/2 and HPACK conformance suite, strict ones too', async () => {
    const h2spec = await goTool('h2spec');
    const report = join(dir, 'report.xml');
    await new Promise<void>((resolve) => {
      execFile(
        h2spec,
        ['-port', String(port), '-strict', '-timeout', '5', '-junit', report],
        { maxBuffer: 16 * 2 ** 20 },
        // A failing case makes h2spec exit 1; the report says which.
        () => resolve(),
      );
    });
    const text = await readFile(report, 'utf8');
    const all = cases(text);
    const failed = all.filter((c) => c.failure !== undefined);
    expect(failed.map((c) => `${c.name}: ${c.failure}`)).toEqual([]);
    // The suites' own counts, in case a failure is written in a form not parsed above.
    const counted = [...text.matchAll(/\b(?:failures|errors|skipped)="(\d+)"/g)];
    expect(counted.length).toBeGreaterThan(0);
    expect(counted.reduce((sum, m) => sum + Number(m[1]), 0)).toBe(0);
    // h2spec 2.2.1 has 146 cases with -strict; fewer means some did not run.
    expect(all.length).toBeGreaterThanOrEqual(146);
  }, 300_000);
});
