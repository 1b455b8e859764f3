// The version watcher on real directories and a loopback index server: the
// desired set follows the base path, errors keep the last good set and are
// reported once, polling once is one poll, and stopping leaves no timer.

import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  VersionWatcher,
  VersionWatchEvent,
} from '../../../src/runtime/versions/version-watcher.js';
import { watchVersions } from '../../../src/runtime/versions/version-watcher.js';
import { startGcsEmulator } from '../gcs/emulator.js';
import type { IndexServer } from './index-server.js';
import { startIndexServer } from './index-server.js';
import { GRAPH_MODEL_JSON, writeBasePath } from './layout.js';

const POLL = 0.02;

let root: string;
let count = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tensorfleet-watch-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh base path per test. */
function basePath(): string {
  count++;
  return join(root, `base-${count}`);
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** The watcher's next event, failing the test after `ms` (the guard timer is cleared). */
async function nextEvent(watcher: VersionWatcher, ms = 5000): Promise<VersionWatchEvent> {
  let guard: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      watcher.next(),
      new Promise<never>((_, reject) => {
        guard = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
      }),
    ]);
    if (result.done === true) throw new Error('the watcher ended');
    return result.value;
  } finally {
    clearTimeout(guard);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds (polls have happened), for at most 5 s. */
async function until(cond: () => boolean): Promise<void> {
  for (const started = performance.now(); !cond(); await sleep(5)) {
    if (performance.now() - started > 5000) throw new Error('condition not met within 5 s');
  }
}

describe('watchVersions on a local base path', () => {
  it('emits the desired set when it changes, and only then; stop leaves no timer', async () => {
    const base = basePath();
    await writeBasePath(base, { '1': 'graph', '2': 'graph' });
    const timersBefore = activeTimers();
    const watcher = watchVersions(base, { pollSeconds: POLL });
    try {
      expect(await nextEvent(watcher)).toEqual({
        kind: 'desired',
        versions: [2],
        missing: [],
        skipped: [],
      });
      // A directory without its model yet is skipped, not served, and changes nothing.
      await mkdir(join(base, '3'));
      await until(() => watcher.listing?.skipped.length === 1);
      expect(watcher.listing?.skipped.map((s) => s.name)).toEqual(['3']);
      // Published: the model written elsewhere and renamed in, as the docs advise.
      await writeBasePath(join(root, `staging-${count}`), { '3': 'graph' });
      await rm(join(base, '3'), { recursive: true });
      await rename(join(root, `staging-${count}`, '3'), join(base, '3'));
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [3] });
      await rm(join(base, '3'), { recursive: true });
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [2] });
      expect(watcher.desired).toEqual([2]);
    } finally {
      await watcher.stop();
    }
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
    expect(await watcher.next()).toEqual({ value: undefined, done: true });
  });

  it('polls once when the interval is 0, and then ends', async () => {
    const base = basePath();
    await writeBasePath(base, { '1': 'graph', '7': 'saved-model' });
    const watcher = watchVersions(base, { pollSeconds: 0, policy: { kind: 'all' } });
    const events: VersionWatchEvent[] = [];
    for await (const event of watcher) {
      events.push(event);
      await writeBasePath(base, { '8': 'graph' });
    }
    expect(events).toEqual([{ kind: 'desired', versions: [1, 7], missing: [], skipped: [] }]);
  });

  it('a missing base path is an error with nothing kept; once it appears, its versions follow', async () => {
    const base = basePath();
    const watcher = watchVersions(base, { pollSeconds: POLL });
    try {
      expect(await nextEvent(watcher)).toMatchObject({
        kind: 'error',
        error: { code: 'FETCH_NOT_FOUND', message: expect.stringContaining(base) as unknown },
        kept: undefined,
      });
      await writeBasePath(base, { '5': 'graph' });
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [5] });
    } finally {
      await watcher.stop();
    }
  });

  it('keeps the last good set when the base path empties, and reports it once', async () => {
    const base = basePath();
    await writeBasePath(base, { '1': 'graph' });
    const logs: string[] = [];
    const watcher = watchVersions(base, { pollSeconds: POLL, log: (m) => logs.push(m) });
    try {
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [1] });
      await rm(join(base, '1'), { recursive: true });
      expect(await nextEvent(watcher)).toMatchObject({
        kind: 'error',
        error: { code: 'NO_MODEL_VERSIONS' },
        kept: [1],
      });
      await sleep(POLL * 1000 * 5);
      expect(logs.filter((l) => l.startsWith('NO_MODEL_VERSIONS'))).toHaveLength(1);
      expect(watcher.desired).toEqual([1]);
      await writeBasePath(base, { '2': 'graph' });
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [2] });
    } finally {
      await watcher.stop();
    }
  });

  it('specific: reports the missing versions, and an error when none is present', async () => {
    const base = basePath();
    await writeBasePath(base, { '1': 'graph', '2': 'graph' });
    const watcher = watchVersions(base, {
      pollSeconds: POLL,
      policy: { kind: 'specific', versions: [2, 4] },
    });
    try {
      expect(await nextEvent(watcher)).toEqual({
        kind: 'desired',
        versions: [2],
        missing: [4],
        skipped: [],
      });
      await rm(join(base, '2'), { recursive: true });
      expect(await nextEvent(watcher)).toMatchObject({
        kind: 'error',
        error: {
          code: 'NO_MODEL_VERSIONS',
          message: `none of the versions of policy specific [2, 4] is under ${base}: it has 1`,
        },
        kept: [2],
      });
    } finally {
      await watcher.stop();
    }
  });

  it('a reader that falls behind gets the newest desired set, not the backlog', async () => {
    const base = basePath();
    await writeBasePath(base, { '1': 'graph' });
    const watcher = watchVersions(base, { pollSeconds: POLL });
    try {
      expect(await nextEvent(watcher)).toMatchObject({ versions: [1] });
      for (const v of [2, 3, 4]) {
        await mkdir(join(base, String(v)));
        await writeFile(join(base, String(v), 'model.json'), GRAPH_MODEL_JSON);
        await until(() => watcher.desired?.[0] === v);
      }
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [4] });
    } finally {
      await watcher.stop();
    }
  });

  it('breaking out of for-await stops the polling and its timers', async () => {
    const base = basePath();
    await writeBasePath(base, { '1': 'graph' });
    const timersBefore = activeTimers();
    const watcher = watchVersions(base, { pollSeconds: 60 });
    for await (const event of watcher) {
      expect(event).toMatchObject({ versions: [1] });
      break;
    }
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
    expect(await watcher.next()).toEqual({ value: undefined, done: true });
  });

  it('refuses a negative interval and a policy that selects nothing', () => {
    expect(() => watchVersions('/x', { pollSeconds: -1 })).toThrow(
      'the poll interval must be 0 (poll once) or a positive number of seconds, not -1',
    );
    expect(() =>
      watchVersions('/x', { pollSeconds: 1, policy: { kind: 'latest', count: 0 } }),
    ).toThrow('version policy latest needs a count of at least 1, not 0');
  });
});

describe('watchVersions on a remote base path (loopback)', () => {
  let index: IndexServer;
  let store: string;
  let silent: Server;
  let silentUrl: string;
  beforeAll(async () => {
    store = join(root, 'http-store');
    await writeBasePath(join(store, 'm'), { '1': 'graph', '2': 'graph' });
    index = await startIndexServer(store);
    silent = createServer(() => {
      // Never answers: a stalled listing.
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const addr = silent.address();
    silentUrl = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  });
  afterAll(async () => {
    await index?.stop();
    silent?.closeAllConnections();
    await new Promise((resolve) => silent?.close(resolve));
  });

  it('rides out failing polls: the last good set stays, the error is reported once', async () => {
    const watcher = watchVersions(`${index.url}/m/`, {
      pollSeconds: POLL,
      policy: { kind: 'latest', count: 2 },
    });
    try {
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [1, 2] });
      index.failNext = 6;
      expect(await nextEvent(watcher)).toMatchObject({
        kind: 'error',
        error: { code: 'FETCH_FAILED', message: `listing ${index.url}/m/: HTTP 503: busy` },
        kept: [1, 2],
      });
      // Recovered with the same set: nothing more to say.
      while (index.failNext > 0) await sleep(POLL * 1000);
      await writeBasePath(join(store, 'm'), { '3': 'graph' });
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [2, 3] });
    } finally {
      await watcher.stop();
    }
  });

  it('follows a gs:// base path as versions are uploaded and deleted', async () => {
    const gcs = await startGcsEmulator({ auth: false });
    const upload = async (version: string, entry: 'graph' | 'saved-model'): Promise<void> => {
      const dir = join(root, `gcs-upload-${version}`);
      await writeBasePath(dir, { [version]: entry });
      await gcs.putTree('bkt', dir, 'models/m/');
    };
    await gcs.createBucket('bkt');
    await upload('1', 'saved-model');
    const watcher = watchVersions('gs://bkt/models/m', {
      pollSeconds: POLL,
      policy: { kind: 'all' },
      env: { STORAGE_EMULATOR_HOST: new URL(gcs.endpoint).host },
    });
    try {
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [1] });
      await upload('2', 'graph');
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [1, 2] });
      await gcs.removePrefix('bkt', 'models/m/1/');
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired', versions: [2] });
    } finally {
      await watcher.stop();
      await gcs.stop();
    }
  });

  it('after the first poll, a poll lists the base path only, not each known version', async () => {
    const watcher = watchVersions(`${index.url}/m/`, { pollSeconds: POLL });
    try {
      expect(await nextEvent(watcher)).toMatchObject({ kind: 'desired' });
      const firstPoll = index.requests.length;
      await until(() => index.requests.length >= firstPoll + 3);
      expect(index.requests.slice(firstPoll, firstPoll + 3)).toEqual(['/m/', '/m/', '/m/']);
    } finally {
      await watcher.stop();
    }
  });

  it('polling once retries transient failures before giving up', async () => {
    index.failNext = 2;
    const events: VersionWatchEvent[] = [];
    for await (const event of watchVersions(`${index.url}/m/`, {
      pollSeconds: 0,
      retryDelayMs: 5,
    }))
      events.push(event);
    expect(events.map((e) => e.kind)).toEqual(['error', 'desired']);
    expect(events[1]).toMatchObject({ versions: [3] });

    index.failNext = 10;
    const failed: VersionWatchEvent[] = [];
    for await (const event of watchVersions(`${index.url}/m/`, {
      pollSeconds: 0,
      retries: 2,
      retryDelayMs: 5,
    }))
      failed.push(event);
    expect(failed).toMatchObject([{ kind: 'error', kept: undefined }]);
    expect(index.failNext).toBe(7);
    index.failNext = 0;
  });

  it('a listing that stalls fails at the poll timeout, and stop aborts it', async () => {
    const watcher = watchVersions(`${silentUrl}/m/`, { pollSeconds: POLL, pollTimeoutMs: 200 });
    expect(await nextEvent(watcher)).toMatchObject({
      kind: 'error',
      error: { code: 'FETCH_FAILED', message: `listing ${silentUrl}/m/: no answer within 0.2 s` },
    });
    const started = performance.now();
    await watcher.stop();
    expect(performance.now() - started).toBeLessThan(150);
  });
});
