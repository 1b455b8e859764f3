// One quantity parser for the operator (apply comparisons, HPA status): every
// suffix the API server accepts, and what it is not.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quantityValue } from '../../../src/operator/kube/quantity.js';

const SUFFIXES: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

describe('quantityValue', () => {
  it('reads decimal and binary suffixes and decimal exponents', () => {
    expect(quantityValue('500m')).toBe(0.5);
    expect(quantityValue('250m')).toBe(0.25);
    expect(quantityValue('4Gi')).toBe(4 * 2 ** 30);
    expect(quantityValue('2')).toBe(2);
    expect(quantityValue('1k')).toBe(1000);
    expect(quantityValue('1e3')).toBe(1000);
    expect(quantityValue('1E3')).toBe(1000);
    expect(quantityValue('2E')).toBe(2e18);
    expect(quantityValue('.5')).toBe(0.5);
    expect(quantityValue('-1.5Mi')).toBe(-1.5 * 2 ** 20);
  });

  it('is undefined for what is not a quantity', () => {
    for (const bad of ['abc', 'lots', '', '1kb', '1KB', 'Gi', '1 Gi', '1.2.3', '1e', 'e3']) {
      expect(quantityValue(bad), bad).toBeUndefined();
    }
  });

  it('is the number times its suffix, for any number and suffix', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 999 }),
        fc.constantFrom(...Object.keys(SUFFIXES)),
        (whole, fraction, suffix) => {
          const text = `${whole}.${String(fraction).padStart(3, '0')}`;
          const value = quantityValue(`${text}${suffix}`);
          expect(value).toBeCloseTo(Number(text) * SUFFIXES[suffix]!, 6);
        },
      ),
    );
  });
});
