import { describe, expect, it } from 'vitest';
import { recommend } from '../../../src/operator/autoscaling/recommend.js';
import type { RecommendInput } from '../../../src/operator/autoscaling/recommend.js';

const base: RecommendInput = {
  total: 0,
  target: 8,
  current: 2,
  minReplicas: 1,
  maxReplicas: 10,
  scaleUpWindowMs: 0,
  scaleDownWindowMs: 300_000,
  history: [],
  now: 1_000_000,
};

describe('recommend (the HPA algorithm)', () => {
  it('scales up to ceil(total / target) at once with no scale-up window', () => {
    const out = recommend({ ...base, total: 40 });
    expect(out.replicas).toBe(5);
    expect(out.reason).toMatch(/scale up/);
  });

  it('holds within the tolerance', () => {
    expect(recommend({ ...base, total: 17 }).replicas).toBe(2); // 8.5 per replica, within 10%
    expect(recommend({ ...base, total: 18 }).replicas).toBe(3); // 9 per replica, beyond 10%
  });

  it('respects min and max', () => {
    // At most max(2x, +4) per step: from 2, 6.
    expect(recommend({ ...base, total: 1000 }).replicas).toBe(6);
    expect(recommend({ ...base, current: 8, total: 1000 }).replicas).toBe(10);
    expect(recommend({ ...base, total: 0, scaleDownWindowMs: 0 }).replicas).toBe(1);
  });

  it('scales down only after the window has seen no higher recommendation', () => {
    let out = recommend({ ...base, current: 5, total: 8 });
    // A fresh history starts the window at the current count: no immediate scale-down.
    expect(out.replicas).toBe(5);
    expect(out.reason).toMatch(/scale-down window/);
    out = recommend({
      ...base,
      current: 5,
      total: 8,
      history: out.history,
      now: base.now + 200_000,
    });
    expect(out.replicas).toBe(5);
    out = recommend({
      ...base,
      current: 5,
      total: 8,
      history: out.history,
      now: base.now + 301_000,
    });
    expect(out.replicas).toBe(1);
  });

  it('does not flap on noise around the target', () => {
    let history = recommend({ ...base, current: 4, total: 32 }).history;
    let replicas = 4;
    const decisions: number[] = [];
    for (let t = 1; t <= 40; t++) {
      const total = 32 + (t % 2 === 0 ? 3 : -3); // +-9% noise
      const out = recommend({
        ...base,
        current: replicas,
        total,
        history,
        now: base.now + t * 15_000,
      });
      history = out.history;
      if (out.replicas !== replicas) decisions.push(out.replicas);
      replicas = out.replicas;
    }
    expect(decisions).toEqual([]);
  });

  it('a short spike does not scale up when a scale-up window is set', () => {
    const first = recommend({ ...base, scaleUpWindowMs: 60_000, total: 16 });
    const spike = recommend({
      ...base,
      scaleUpWindowMs: 60_000,
      total: 80,
      history: first.history,
      now: base.now + 15_000,
    });
    expect(spike.replicas).toBe(2);
  });
});
