// What the Gateways say of the model's HTTPRoute. A Gateway controller writes
// one entry per parent in status.parents; Accepted=False (the listener refuses
// the route) or ResolvedRefs=False (a backend it cannot use) means the exact
// canary weights are not in force there. No entry yet is not a problem: a
// controller may not have seen the route, or none is installed.
import type { Problem } from './compute.js';
import { REASON } from './reasons.js';

interface RouteCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface RouteState {
  metadata: { namespace?: string };
  status?: {
    parents?: {
      parentRef: { name: string; namespace?: string; sectionName?: string };
      conditions?: RouteCondition[];
    }[];
  };
}

export function routeProblems(route: RouteState | undefined): Problem[] {
  const problems: Problem[] = [];
  for (const parent of route?.status?.parents ?? []) {
    const ref = parent.parentRef;
    const gateway = `${ref.namespace ?? route?.metadata.namespace}/${ref.name}${ref.sectionName ? `/${ref.sectionName}` : ''}`;
    for (const c of parent.conditions ?? []) {
      if (c.status !== 'False' || (c.type !== 'Accepted' && c.type !== 'ResolvedRefs')) continue;
      const what = c.type === 'Accepted' ? 'does not accept' : 'cannot resolve the backends of';
      problems.push({
        reason:
          c.type === 'Accepted' ? REASON.HTTPRouteNotAccepted : REASON.HTTPRouteRefsNotResolved,
        message: `Gateway ${gateway} ${what} the HTTPRoute${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}`,
      });
    }
  }
  return problems;
}
