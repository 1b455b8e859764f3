import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { microTime, rfc3339 } from '../../../src/operator/kube/time.js';

// Years 0 to 9999: the range RFC 3339 (and so the API server) can write.
const dates = fc.date({
  min: new Date('0000-01-01T00:00:00.000Z'),
  max: new Date('9999-12-31T23:59:59.999Z'),
  noInvalidDate: true,
});

describe('Kubernetes timestamps', () => {
  it('Time is RFC 3339 in UTC to the second, the milliseconds dropped', () => {
    fc.assert(
      fc.property(dates, (d) => {
        const s = rfc3339(d);
        expect(s).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
        expect(Date.parse(s)).toBe(Math.floor(d.getTime() / 1000) * 1000);
      }),
    );
  });

  it('MicroTime keeps the milliseconds, as six fractional digits', () => {
    fc.assert(
      fc.property(dates, (d) => {
        const s = microTime(d);
        expect(s).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}000Z$/);
        expect(Date.parse(s)).toBe(d.getTime());
        expect(s.slice(0, 19)).toBe(rfc3339(d).slice(0, 19));
      }),
    );
  });

  it('writes a known instant in both forms', () => {
    const d = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 67));
    expect(rfc3339(d)).toBe('2026-01-02T03:04:05Z');
    expect(microTime(d)).toBe('2026-01-02T03:04:05.067000Z');
  });
});
