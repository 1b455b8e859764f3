// The real-node benchmark: the chart installed with `helm install` on the
// embedded cluster with its real node, then, through a model's Service:
// - cold start: apply to the first correct prediction, with the runtime
//   image pulled from the local registry, and with it already on the node;
// - requests failed (and p99) while a new version rolls out, while the model
//   scales down, and while a broken canary is rolled back, each phase under
//   continuous load until at least BENCH_REQUESTS requests were sent in it;
// - under that load, how long kube-proxy keeps routing to a deleted pod,
//   against the preStop pause that must outlast it;
// - `npm run images` warm (and cold, in an empty cache, with BENCH_IMAGES_COLD=1).
//
//   npm run bench -- --only realnode       # root on Linux, after npm run images
//
// Environment: BENCH_REQUESTS (20000), BENCH_CONCURRENCY (16), BENCH_IMAGES_COLD (0).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import {
  ensureBinaries,
  startControlPlane,
  type ControlPlane,
} from '../../src/localcluster/index.js';
import { serveDirectory, type ModelServer } from '../../src/localcluster/model-server.js';
import { NODE_IP } from '../../src/localcluster/node/network.js';
import { writeHalfPlusTwo, writeIndexLookup } from '../../src/runtime/models/graph-models.js';
import { eventually } from '../../test/support/eventually.js';
import { installChart } from '../../test/support/install-chart.js';
import { stdoutOrThrow } from '../../test/support/kubectl.js';
import { percentile, startLoad, type LoadReport } from '../../test/support/load.js';
import { PRESTOP_SLEEP_SECONDS } from '../../src/operator/builders/deployment.js';
import { unroutingSeconds } from './endpoint-lag.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NS = 'bench';

export interface PhaseReport {
  readonly name: string;
  readonly sent: number;
  readonly failed: number;
  /** Failures that were the broken canary's own 500s (expected), in the canary phase. */
  readonly canaryErrors: number;
  readonly p99Ms: number;
  readonly seconds: number;
}

export interface RealNodeBenchReport {
  readonly imagesWarmSeconds: number;
  readonly imagesColdSeconds?: number;
  readonly helmInstallSeconds: number;
  readonly coldStartPullSeconds: number;
  readonly coldStartPresentSeconds: number;
  readonly phases: readonly PhaseReport[];
  /** Seconds from a pod's deletion until kube-proxy stopped routing to it, one per deletion. */
  readonly unroutingSeconds: readonly number[];
}

async function timeImages(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const started = Date.now();
  await run('bash', [join(ROOT, 'tools/images/build.sh')], { env, maxBuffer: 64 << 20 });
  return (Date.now() - started) / 1000;
}

function model(
  name: string,
  uri: string,
  version: string,
  spec: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    apiVersion: 'tensorfleet.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace: NS },
    spec: {
      model: { uri, version },
      resources: { requests: { cpu: '100m', memory: '256Mi' } },
      ...spec,
    },
  });
}

export async function runRealNodeBench(options: {
  requests?: number;
  concurrency?: number;
  imagesCold?: boolean;
  log?: (line: string) => void;
}): Promise<RealNodeBenchReport> {
  const log = options.log ?? (() => undefined);
  const requests = options.requests ?? 20_000;
  const concurrency = options.concurrency ?? 16;

  let imagesColdSeconds: number | undefined;
  if (options.imagesCold === true) {
    const cache = await mkdtemp(join(tmpdir(), 'tensorfleet-bench-images-'));
    try {
      imagesColdSeconds = await timeImages({ ...process.env, TENSORFLEET_CACHE: cache });
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  }
  const imagesWarmSeconds = await timeImages();
  log(`images: warm ${imagesWarmSeconds.toFixed(1)} s`);

  const manifest = await ensureBinaries({ log });
  const dir = await mkdtemp(join(tmpdir(), 'tensorfleet-bench-realnode-'));
  const models = await mkdtemp(join(tmpdir(), 'tensorfleet-bench-models-'));
  let plane: ControlPlane | undefined;
  let server: ModelServer | undefined;
  try {
    plane = await startControlPlane({
      dir,
      manifest,
      components: { controllerManager: true, scheduler: true, kwok: true },
      realNode: true,
      log,
    });
    const p = plane;
    // On the node IP, which exists once the real node's bridge does.
    await writeHalfPlusTwo(join(models, 'hpt', '1'), 2);
    await writeHalfPlusTwo(join(models, 'hpt', '2'), 3);
    await writeIndexLookup(join(models, 'hpt', 'broken'), 10);
    const served = await serveDirectory(models, NODE_IP);
    server = served;
    const kubectl = async (args: string[], input?: string): Promise<string> =>
      stdoutOrThrow(args, await p.kubectl(args, input === undefined ? {} : { input }));
    const helmInstallSeconds = (await installChart(p, manifest)) / 1000;
    await kubectl(['create', 'namespace', NS]);
    const uri = (version: string) => `${served.url}hpt/${version}/model.json`;

    const clusterIp = async (name: string): Promise<string> =>
      (await kubectl(['get', 'svc', '-n', NS, name, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    /** Seconds from apply until the Service answers a correct prediction. */
    const coldStart = async (name: string): Promise<number> => {
      const started = Date.now();
      await kubectl(['apply', '-f', '-'], model(name, uri('1'), '1'));
      await eventually(
        `${name} answering`,
        async () => {
          const response = await fetch(
            `http://${await clusterIp(name)}:8501/v1/models/${name}:predict`,
            {
              method: 'POST',
              body: '{"instances":[4]}',
              signal: AbortSignal.timeout(2000),
            },
          );
          return response.ok && (await response.text()) === '{"predictions":[4]}'
            ? true
            : undefined;
        },
        300_000,
      );
      return (Date.now() - started) / 1000;
    };
    const coldStartPullSeconds = await coldStart('first');
    const coldStartPresentSeconds = await coldStart('second');
    await kubectl(['delete', 'md', '-n', NS, 'first', 'second', '--wait=false']);
    log(
      `cold start: ${coldStartPullSeconds.toFixed(1)} s (image pulled), ${coldStartPresentSeconds.toFixed(1)} s (image present)`,
    );

    const readyPods = async (version: string): Promise<number> => {
      const out = await kubectl([
        'get',
        'pods',
        '-n',
        NS,
        '-l',
        `tensorfleet.dev/model=hpt,tensorfleet.dev/version=${version}`,
        '-o',
        'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ]);
      return out.split('\n').filter((s) => s === 'True').length;
    };
    const allPods = async (): Promise<number> =>
      (await kubectl(['get', 'pods', '-n', NS, '-l', 'tensorfleet.dev/model=hpt', '-o', 'name']))
        .split('\n')
        .filter(Boolean).length;
    const settled = (version: string, replicas: number) => async () =>
      (await readyPods(version)) === replicas && (await allPods()) === replicas;

    const canary = {
      strategy: 'Canary',
      canary: {
        steps: [{ weight: 50, pauseSeconds: 5 }],
        analysis: { maxErrorRate: 0.05, minRequests: 20 },
      },
    };
    await kubectl(['apply', '-f', '-'], model('hpt', uri('1'), '1', { replicas: 2 }));
    await eventually(
      '2 pods of version 1',
      async () => ((await settled('1', 2)()) ? true : undefined),
      300_000,
    );
    const url = `http://${await clusterIp('hpt')}:8501`;
    const versions = {
      '1': (x: number) => 0.5 * x + 2,
      '2': (x: number) => 0.5 * x + 3,
      broken: (x: number) => (x >= 0 && x < 10 ? x : NaN),
    };

    /** Load until `done` holds and `requests` were sent; the phase's figures. */
    const phase = async (
      name: string,
      act: () => Promise<void>,
      done: () => Promise<boolean>,
    ): Promise<PhaseReport> => {
      const started = Date.now();
      const load = startLoad({ url, model: 'hpt', concurrency, versions });
      try {
        await act();
        await eventually(
          `${name} to finish`,
          async () => ((await done()) ? true : undefined),
          600_000,
        );
        await eventually(
          `${requests} requests in ${name}`,
          () => Promise.resolve(load.snapshot().sent >= requests ? true : undefined),
          600_000,
        );
      } finally {
        await load.stop();
      }
      const report: LoadReport = load.snapshot();
      const failures = Object.entries(report.failures);
      const canaryErrors = failures
        .filter(([reason]) => reason.includes('GatherV'))
        .reduce((n, [, c]) => n + c, 0);
      const failed = failures.reduce((n, [, c]) => n + c, 0) - canaryErrors;
      const result = {
        name,
        sent: report.sent,
        failed,
        canaryErrors,
        p99Ms: percentile(report.latencies, 99),
        seconds: (Date.now() - started) / 1000,
      };
      log(
        `${name}: ${JSON.stringify(result)}${failed > 0 ? ` failures ${JSON.stringify(report.failures)}` : ''}`,
      );
      return result;
    };

    // Pods Ready and in the endpoints; kube-proxy's rules follow a moment later.
    await eventually(
      'the Service to answer',
      async () =>
        (
          await fetch(`${url}/v1/models/hpt:predict`, {
            method: 'POST',
            body: '{"instances":[0]}',
            signal: AbortSignal.timeout(2000),
          })
        ).ok || undefined,
      10_000,
    );
    const phases: PhaseReport[] = [];
    phases.push(
      await phase(
        'steady (2 pods)',
        () => Promise.resolve(),
        () => Promise.resolve(true),
      ),
    );
    phases.push(
      await phase(
        'rollout to a new version',
        async () => {
          await kubectl(['apply', '-f', '-'], model('hpt', uri('2'), '2', { replicas: 2 }));
        },
        settled('2', 2),
      ),
    );
    await kubectl(['scale', 'md', '-n', NS, 'hpt', '--replicas=4']);
    await eventually(
      '4 pods of version 2',
      async () => ((await settled('2', 4)()) ? true : undefined),
      300_000,
    );
    phases.push(
      await phase(
        'scale-down 4 -> 1',
        async () => {
          await kubectl(['scale', 'md', '-n', NS, 'hpt', '--replicas=1']);
        },
        settled('2', 1),
      ),
    );
    await kubectl(
      ['apply', '-f', '-'],
      model('hpt', uri('2'), '2', { replicas: 2, rollout: canary }),
    );
    await eventually(
      '2 pods of version 2',
      async () => ((await settled('2', 2)()) ? true : undefined),
      300_000,
    );
    phases.push(
      await phase(
        'canary rollback (broken version)',
        async () => {
          await kubectl(
            ['apply', '-f', '-'],
            model('hpt', uri('broken'), 'broken', { replicas: 2, rollout: canary }),
          );
        },
        async () => {
          const outcome = await kubectl([
            'get',
            'md',
            '-n',
            NS,
            'hpt',
            '-o',
            'jsonpath={.status.history[0].outcome}',
          ]);
          return outcome === 'RolledBack' && (await settled('2', 2)());
        },
      ),
    );

    // Back on 2 pods of version 2, under load: pods deleted one at a time, each
    // timed until kube-proxy stops routing to it.
    const unrouting: number[] = [];
    phases.push(
      await phase(
        'pod deletions (8, one at a time)',
        async () => {
          for (let i = 0; i < 8; i++) {
            const [pod, ip] = (
              await kubectl([
                'get',
                'pods',
                '-n',
                NS,
                '-l',
                'tensorfleet.dev/model=hpt',
                '-o',
                'jsonpath={.items[0].metadata.name} {.items[0].status.podIP}',
              ])
            ).split(' ');
            if (pod === undefined || ip === undefined) throw new Error('no hpt pod to delete');
            unrouting.push(
              await unroutingSeconds(ip, async () => {
                await kubectl(['delete', 'pod', '-n', NS, pod, '--wait=false']);
              }),
            );
            await eventually(
              '2 pods of version 2 again',
              async () => ((await settled('2', 2)()) ? true : undefined),
              300_000,
            );
          }
        },
        settled('2', 2),
      ),
    );
    log(
      `kube-proxy unrouting after deletion (s): ${unrouting.map((s) => s.toFixed(2)).join(', ')}`,
    );
    return {
      imagesWarmSeconds,
      ...(imagesColdSeconds === undefined ? {} : { imagesColdSeconds }),
      helmInstallSeconds,
      coldStartPullSeconds,
      coldStartPresentSeconds,
      phases,
      unroutingSeconds: unrouting,
    };
  } finally {
    await server?.close();
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(models, { recursive: true, force: true });
  }
}

export function summarize(report: RealNodeBenchReport): string {
  const steady = report.phases[0];
  const rows = report.phases.map((p) => {
    const ratio =
      steady !== undefined && p !== steady
        ? ` (${(p.p99Ms / steady.p99Ms).toFixed(2)}x steady)`
        : '';
    const canary =
      p.canaryErrors > 0 ? `, plus ${p.canaryErrors} 500s from the broken canary itself` : '';
    return `| ${p.name} | ${p.sent} | **${p.failed}**${canary} | ${p.p99Ms.toFixed(1)}${ratio} | ${p.seconds.toFixed(0)} |`;
  });
  return [
    `- \`npm run images\`: warm ${report.imagesWarmSeconds.toFixed(1)} s` +
      (report.imagesColdSeconds === undefined
        ? ' (cold: BENCH_IMAGES_COLD=1)'
        : `, cold ${report.imagesColdSeconds.toFixed(0)} s`),
    `- \`helm install --wait\`: ${report.helmInstallSeconds.toFixed(1)} s`,
    `- apply to first correct prediction: ${report.coldStartPullSeconds.toFixed(1)} s with the runtime image pulled from the local registry, ${report.coldStartPresentSeconds.toFixed(1)} s with it on the node`,
    '',
    `- kube-proxy stops routing to a deleted pod after ${report.unroutingSeconds.map((s) => s.toFixed(2)).join(', ')} s ` +
      `(max ${(Math.max(...report.unroutingSeconds) / PRESTOP_SLEEP_SECONDS).toFixed(3)}x the ${PRESTOP_SLEEP_SECONDS} s preStop pause)`,
    '',
    '| phase (target: 0 failed) | sent | failed | p99 ms | s |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
