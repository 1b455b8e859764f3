import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { liveProcesses, startProcess } from '../../src/localcluster/process.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-process-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('startProcess', () => {
  it('captures stdout and stderr in the log file and reports the exit', async () => {
    const logPath = join(dir, 'echo.log');
    const child = startProcess({
      name: 'echo',
      command: 'bash',
      args: ['-c', 'echo out; echo err >&2; exit 3'],
      logPath,
    });
    expect(await child.exited).toEqual({ code: 3, signal: null });
    const log = await readFile(logPath, 'utf8');
    expect(log).toContain('out\nerr\n');
    expect(child.logTail(4)).toBe('err\n');
    expect(liveProcesses()).not.toContain(child);
  });

  it('stop() terminates the whole process group, grandchildren included', async () => {
    const logPath = join(dir, 'tree.log');
    const child = startProcess({
      name: 'tree',
      command: 'bash',
      args: ['-c', 'sleep 300 & echo "grandchild $!"; wait'],
      logPath,
    });
    let grandchild = 0;
    await until('the grandchild pid in the log', async () => {
      grandchild = Number(/grandchild (\d+)/.exec(await readFile(logPath, 'utf8'))?.[1] ?? 0);
      return grandchild > 0;
    });
    expect(alive(grandchild)).toBe(true);
    const exit = await child.stop(2000);
    expect(exit.signal ?? exit.code).toBeTruthy();
    await until('the grandchild to exit', () => !alive(grandchild));
    expect(await child.stop()).toBe(exit);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const logPath = join(dir, 'stubborn.log');
    const child = startProcess({
      name: 'stubborn',
      command: 'bash',
      args: ['-c', 'trap \'\' TERM; echo "armed $$"; while :; do sleep 0.05; done'],
      logPath,
    });
    await until('the trap to be set', async () =>
      /^armed \d+$/m.test(await readFile(logPath, 'utf8')),
    );
    const started = Date.now();
    expect(await child.stop(300)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('reports a command that cannot start instead of throwing', async () => {
    const child = startProcess({
      name: 'missing',
      command: join(dir, 'no-such-binary'),
      args: [],
      logPath: join(dir, 'missing.log'),
    });
    expect((await child.exited).code).toBe(127);
    expect(child.logTail()).toContain('failed to start');
  });
});

describe('the reaper', () => {
  it('kills the started processes when their parent is SIGKILLed', async () => {
    const script = join(dir, 'parent.ts');
    const processModule = fileURLToPath(
      new URL('../../src/localcluster/process.ts', import.meta.url),
    );
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      script,
      `import { startProcess } from ${JSON.stringify(processModule)};\n` +
        `const child = startProcess({ name: 'sleep', command: 'sleep', args: ['300'], logPath: ${JSON.stringify(join(dir, 'orphan.log'))} });\n` +
        `console.log('pid', child.pid);\nsetInterval(() => undefined, 1000);\n`,
    );
    const parent = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const orphan = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /pid (\d+)/.exec(out);
        if (match?.[1] !== undefined) resolve(Number(match[1]));
      });
      parent.once('exit', () => reject(new Error(`parent exited early: ${out}`)));
    });
    expect(alive(orphan)).toBe(true);
    parent.kill('SIGKILL');
    await until('the reaper to kill the orphan', () => !alive(orphan), 8000);
  });
});
