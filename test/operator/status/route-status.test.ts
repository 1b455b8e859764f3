import { describe, expect, it } from 'vitest';
import { routeProblems } from '../../../src/operator/status/route-status.js';

const condition = (type: string, status: string, reason: string, message = '') => ({
  type,
  status,
  reason,
  message,
});

describe('routeProblems', () => {
  it('reports each Gateway that refuses the route or cannot use its backends', () => {
    const problems = routeProblems({
      metadata: { namespace: 'ml' },
      status: {
        parents: [
          {
            parentRef: { name: 'models', namespace: 'gateways', sectionName: 'https' },
            conditions: [
              condition('Accepted', 'False', 'NotAllowedByListeners', 'namespace ml not allowed'),
              condition('ResolvedRefs', 'True', 'ResolvedRefs'),
            ],
          },
          {
            parentRef: { name: 'internal' },
            conditions: [
              condition('Accepted', 'True', 'Accepted'),
              condition('ResolvedRefs', 'False', 'BackendNotFound'),
            ],
          },
        ],
      },
    });
    expect(problems).toEqual([
      {
        reason: 'HTTPRouteNotAccepted',
        message:
          'Gateway gateways/models/https does not accept the HTTPRoute (NotAllowedByListeners: namespace ml not allowed)',
      },
      {
        reason: 'HTTPRouteRefsNotResolved',
        message:
          'Gateway ml/internal cannot resolve the backends of the HTTPRoute (BackendNotFound)',
      },
    ]);
  });

  it('finds nothing while no Gateway controller has answered, or when all accept', () => {
    expect(routeProblems(undefined)).toEqual([]);
    expect(routeProblems({ metadata: {} })).toEqual([]);
    expect(
      routeProblems({
        metadata: {},
        status: {
          parents: [
            {
              parentRef: { name: 'models' },
              conditions: [condition('Accepted', 'True', 'Accepted')],
            },
          ],
        },
      }),
    ).toEqual([]);
  });
});
