// The operator as a process: killed mid-reconcile it converges after a
// restart; two replicas elect one leader, and the other takes over within the
// lease duration when the leader is killed.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cluster, createNamespace, deleteNamespace, eventually, kubectlOk } from './context.js';
import { apply, getJson, modelDeploymentManifest, waitForCondition } from './operator-support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const children: ChildProcess[] = [];
let ns: string;

interface Running {
  child: ChildProcess;
  log: () => string;
}

function runOperator(args: string[]): Running {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/operator/main.ts', '--http-address=127.0.0.1:0', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, KUBECONFIG: cluster().kubeconfigPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  children.push(child);
  return { child, log: () => log };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once('exit', () => r()));
}

beforeAll(async () => {
  ns = await createNamespace('operator-proc');
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
  await deleteNamespace(ns);
});

describe('operator process', () => {
  it('killed mid-reconcile, converges after a restart with nothing duplicated', async () => {
    const names = ['m0', 'm1', 'm2', 'm3', 'm4'];
    const first = runOperator([`--watch-namespaces=${ns}`]);
    for (const n of names) await apply(ns, modelDeploymentManifest(n, { replicas: 2 }));
    // Kill it as soon as it has started writing, before it can finish.
    await eventually('first Deployment', async () =>
      (await kubectlOk(['get', 'deployments', '-n', ns, '-o', 'name'])).trim() ? true : undefined,
    );
    first.child.kill('SIGKILL');
    await exited(first.child);

    const second = runOperator([`--watch-namespaces=${ns}`]);
    for (const n of names) await waitForCondition(ns, n, 'Ready', 'True');
    const deployments = (await kubectlOk(['get', 'deployments', '-n', ns, '-o', 'name']))
      .trim()
      .split('\n');
    expect(deployments.sort()).toEqual(names.map((n) => `deployment.apps/${n}`));
    second.child.kill('SIGTERM');
    await exited(second.child);
    // SIGTERM is a graceful shutdown: exit code 0.
    expect(second.child.exitCode).toBe(0);
  });

  it('takes its settings from a ConfigMap, with flags winning', async () => {
    await kubectlOk(
      ['apply', '-n', ns, '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'operator-config' },
        data: { 'runtime-image': 'cm.example.com/runtime:7', 'log-level': 'warn' },
      }),
    );
    const op = runOperator([
      `--watch-namespaces=${ns}`,
      `--config-map=${ns}/operator-config`,
      '--runtime-image=flag.example.com/runtime:8',
    ]);
    await apply(ns, modelDeploymentManifest('configured', {}));
    await waitForCondition(ns, 'configured', 'Ready', 'True');
    const d = await getJson<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(
      ns,
      'deployment',
      'configured',
    );
    // The flag beat the ConfigMap's image; the ConfigMap's log level applied.
    expect(d?.spec.template.spec.containers[0]?.image).toBe('flag.example.com/runtime:8');
    expect(op.log()).not.toContain('"level":"info"');
    op.child.kill('SIGTERM');
    await exited(op.child);
  });

  it('refuses a bad setting with a clear message and exit code 2', async () => {
    const bad = runOperator(['--workers=none']);
    await exited(bad.child);
    expect(bad.child.exitCode).toBe(2);
    expect(bad.log()).toContain('--workers (\\"none\\") must be an integer');
    // A flag it does not know is a configuration error too, said the same way.
    const unknown = runOperator(['--no-such-flag=1']);
    await exited(unknown.child);
    expect(unknown.child.exitCode).toBe(2);
    expect(unknown.log()).toContain('unknown flag --no-such-flag');
  });

  it('prints its version', async () => {
    const run = spawn(process.execPath, ['--import', 'tsx', 'src/operator/main.ts', '--version'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    run.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await exited(run);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(run.exitCode).toBe(0);
    expect(out).toBe(`tensorfleet-operator ${version}\n`);
  });

  it('two replicas elect one leader; the other takes over within the lease duration', async () => {
    const leaseSeconds = 4;
    const args = [
      `--watch-namespaces=${ns}`,
      '--leader-elect=true',
      `--leader-election-namespace=${ns}`,
      '--leader-election-id=tensorfleet-test',
      `--lease-duration-seconds=${leaseSeconds}`,
      '--renew-deadline-seconds=3',
      '--retry-period-seconds=1',
    ];
    const a = runOperator(args);
    const b = runOperator(args);
    const [leader, follower] = await eventually('a leader', () => {
      const la = a.log().includes('became leader');
      const lb = b.log().includes('became leader');
      if (la && lb) return Promise.reject(new Error('two leaders'));
      return Promise.resolve(la ? [a, b] : lb ? [b, a] : undefined);
    });
    await apply(ns, modelDeploymentManifest('led', {}));
    await waitForCondition(ns, 'led', 'Ready', 'True');
    // Only the leader reconciled.
    expect(leader.log()).toContain('"applied"');
    expect(follower.log()).not.toContain('"applied"');
    expect(follower.log()).not.toContain('became leader');

    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await eventually(
      'follower takes over',
      () => Promise.resolve(follower.log().includes('became leader') ? true : undefined),
      20_000,
    );
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan((leaseSeconds + 3) * 1000);

    const lease = await getJson<{ spec: { holderIdentity: string; leaseTransitions: number } }>(
      ns,
      'lease',
      'tensorfleet-test',
    );
    expect(lease?.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
    expect(follower.log()).toContain(lease!.spec.holderIdentity);

    // The new leader does the work.
    await apply(ns, modelDeploymentManifest('after', {}));
    await waitForCondition(ns, 'after', 'Ready', 'True');
    process.stderr.write(
      `[operator-process] leader takeover after SIGKILL: ${takeoverMs} ms (lease ${leaseSeconds} s)\n`,
    );
  });
});
