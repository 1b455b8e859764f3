// Two operators without leader election reconcile the same objects and undo
// each other's writes. Each still holds the Lease (advisory), so the second
// one to come sees the first and says so, once, naming it; both keep
// reconciling, as they were told to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Operator } from '../../src/operator/operator.js';
import { createLogger } from '../../src/operator/logger.js';
import { createNamespace, deleteNamespace, eventually } from './context.js';
import {
  apply,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
} from './operator-support.js';

interface LogLine {
  level: string;
  msg: string;
  holder?: string;
  lease?: string;
}

let ns = '';
const operators: Operator[] = [];
const logs: LogLine[][] = [[], []];

beforeAll(async () => {
  ns = await createNamespace('no-leader-election');
  for (const i of [0, 1]) {
    operators.push(
      await startOperator(
        ns,
        {
          leaderElect: false,
          leaderElectionNamespace: ns,
          leaderElectionId: 'tensorfleet-operator',
          retryPeriodSeconds: 1,
        },
        {
          identity: `operator-${i}`,
          logger: createLogger('debug', {}, (line) => logs[i]!.push(JSON.parse(line) as LogLine)),
        },
      ),
    );
  }
});

afterAll(async () => {
  for (const o of operators) await o.stop();
  if (ns) await deleteNamespace(ns);
});

describe('two operators without leader election', () => {
  it('are noticed: one warns, once, naming the other, and both reconcile', async () => {
    const warnings = () =>
      logs.flatMap((lines, i) =>
        lines
          .filter((l) => l.level === 'warn' && l.msg.startsWith('another operator holds the Lease'))
          .map((l) => ({ by: `operator-${i}`, holder: l.holder, lease: l.lease })),
      );
    const [first] = await eventually('a warning about the other operator', () =>
      Promise.resolve(warnings().length > 0 ? warnings() : undefined),
    );
    expect(first!.lease).toBe(`${ns}/tensorfleet-operator`);
    expect(first!.holder).not.toBe(first!.by);
    expect(first!.holder).toMatch(/^operator-[01]$/);
    // The one that warned keeps reconciling: a model still becomes Ready.
    await apply(ns, modelDeploymentManifest('m', { replicas: 1 }));
    await waitForCondition(ns, 'm', 'Ready', 'True');
    // Said once, not at every retry period.
    await new Promise((r) => setTimeout(r, 3000));
    expect(warnings()).toHaveLength(1);
  }, 60_000);
});
