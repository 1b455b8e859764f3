import { describe, expect, it } from 'vitest';
import { CounterWindows } from '../../../src/operator/rollout/counter-windows.js';

const requests = (value: number) => [
  { name: 'tensorfleet_runtime_requests_total', labels: { code: '200' }, value },
];

describe('CounterWindows', () => {
  it('keeps the window start however many reads fall inside the window', () => {
    const windows = new CounterWindows(4);
    windows.window('pod', requests(10), 0, 100);
    for (let t = 200; t < 2000; t += 100) windows.window('pod', requests(t), 150, t);
    expect(windows.window('pod', requests(5000), 150, 3000)[0]!.value).toBe(4990);
  });

  it('forgets pods that have not been read for a long time', () => {
    const windows = new CounterWindows(4, 1000);
    windows.window('gone', requests(10), 0, 100);
    windows.window('other', requests(1), 0, 5000);
    // `gone` was forgotten, so its next read counts everything.
    expect(windows.window('gone', requests(30), 200, 5100)[0]!.value).toBe(30);
  });
});
