import { describe, expect, it } from 'vitest';

import { established } from '../../src/localcluster/crds.js';

describe('established', () => {
  it('waits (false) while the API server has written no condition yet, instead of failing', () => {
    expect(established('{"metadata":{"name":"x"}}')).toBe(false);
    expect(established('{"status":{}}')).toBe(false);
    expect(established('{"status":{"conditions":null}}')).toBe(false);
  });

  it('reads the Established condition only', () => {
    const crd = (conditions: Array<{ type: string; status: string }>) =>
      JSON.stringify({ status: { conditions } });
    expect(established(crd([{ type: 'NamesAccepted', status: 'True' }]))).toBe(false);
    expect(established(crd([{ type: 'Established', status: 'False' }]))).toBe(false);
    expect(
      established(
        crd([
          { type: 'NamesAccepted', status: 'True' },
          { type: 'Established', status: 'True' },
        ]),
      ),
    ).toBe(true);
  });
});
