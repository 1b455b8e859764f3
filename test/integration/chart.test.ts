/**
 * The Helm chart against the real control plane: lint and render with default
 * and non-default values, server-side dry-run of everything it renders, then an
 * install into a namespace that enforces the restricted Pod Security Standard,
 * the operator run with exactly the chart's RBAC (a token of the chart's
 * ServiceAccount) reconciling an example to Ready, requests outside that RBAC
 * refused, and an upgrade that leaves the running ModelDeployment alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { currentManifest } from '../../src/localcluster/index.js';
import {
  CHART_DIR,
  find,
  helmOk,
  only,
  parseManifests,
  runHelm,
  valuesArgs,
  type K8sObject,
  type RbacRule,
} from '../chart/helm.js';
import {
  cluster,
  createNamespace,
  deleteNamespace,
  eventually,
  kubectl,
  kubectlOk,
} from './context.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/mnist-cpu.yaml');
const RELEASE = `tf-${process.pid.toString(36)}`;
const FULLNAME = `${RELEASE}-tensorfleet`;

interface Container {
  args: string[];
  image: string;
  securityContext: Record<string, unknown>;
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface DeploymentSpec {
  replicas: number;
  template: {
    metadata: { annotations?: Record<string, string> };
    spec: {
      serviceAccountName: string;
      automountServiceAccountToken: boolean;
      securityContext: Record<string, unknown>;
      containers: Container[];
      nodeSelector?: Record<string, string>;
      tolerations?: unknown[];
    };
  };
}

const spec = <T>(o: K8sObject, field = 'spec'): T => o[field] as T;
const rules = (o: K8sObject): RbacRule[] => o.rules as RbacRule[];

let helm = '';
let release = '';
let watched = '';
let other = '';
let workDir = '';
let operatorProcess: ChildProcess | undefined;
let operatorLog = '';

const installValues = () => ({
  operator: {
    watchNamespaces: [watched],
    runtimeImage: 'registry.example.com/tensorfleet/runtime:test',
    runtimeGpuImage: 'registry.example.com/tensorfleet/runtime-gpu:test',
  },
  serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
});

function template(values: Record<string, unknown> = {}, extra: string[] = []): Promise<string> {
  return helmOk(helm, [
    'template',
    RELEASE,
    CHART_DIR,
    '--namespace',
    release,
    ...valuesArgs(values),
    ...extra,
  ]);
}

beforeAll(async () => {
  const current = await currentManifest();
  if (!current.manifest) throw new Error(`cluster binaries: ${current.reason}`);
  helm = current.manifest.binaries.helm;
  release = await createNamespace('chart');
  watched = await createNamespace('chart-models');
  other = await createNamespace('chart-other');
  workDir = await mkdtemp(join(tmpdir(), 'tensorfleet-chart-'));
  // The release namespace enforces the restricted Pod Security Standard.
  await kubectlOk([
    'label',
    'namespace',
    release,
    'pod-security.kubernetes.io/enforce=restricted',
    'pod-security.kubernetes.io/enforce-version=latest',
  ]);
});

afterAll(async () => {
  operatorProcess?.kill('SIGTERM');
  if (helm && release)
    await runHelm(helm, ['uninstall', RELEASE, '-n', release, '--wait'], cluster().kubeconfigPath);
  for (const ns of [release, watched, other]) if (ns) await deleteNamespace(ns);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('helm lint and template', () => {
  it('passes helm lint --strict with default and non-default values', async () => {
    const lint = await helmOk(helm, ['lint', '--strict', CHART_DIR]);
    expect(lint).toContain('1 chart(s) linted, 0 chart(s) failed');
    const custom = await helmOk(helm, [
      'lint',
      '--strict',
      CHART_DIR,
      ...valuesArgs({ ...installValues(), replicaCount: 3, dashboard: { enabled: false } }),
    ]);
    expect(custom).toContain('0 chart(s) failed');
  });

  it('renders the defaults: two leader-electing replicas, restricted pods, a ClusterRole without wildcards', async () => {
    const objects = parseManifests(await template());
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRole',
        'ClusterRole',
        'ClusterRole',
        'ClusterRoleBinding',
        'ClusterRoleBinding',
        'ConfigMap',
        'Deployment',
        'PodDisruptionBudget',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    const deployment = spec<DeploymentSpec>(only(objects, 'Deployment'));
    expect(deployment.replicas).toBe(2);
    const [container] = deployment.template.spec.containers;
    expect(container!.image).toBe('ghcr.io/tensorfleet/operator:0.1.0');
    expect(container!.args).toEqual(
      expect.arrayContaining([
        '--leader-elect=true',
        `--leader-election-namespace=${release}`,
        `--leader-election-id=${FULLNAME}`,
        '--http-address=0.0.0.0:8080',
        '--gpu-resource-name=nvidia.com/gpu',
      ]),
    );
    expect(container!.args.some((a) => a.startsWith('--watch-namespaces'))).toBe(false);
    expect(container!.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container!.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container!.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(deployment.template.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container!.resources.requests).toEqual({ cpu: '100m', memory: '128Mi' });
    // The ServiceAccount's token reaches the operator pod only.
    expect(only(objects, 'ServiceAccount').automountServiceAccountToken).toBe(false);
    expect(deployment.template.spec.automountServiceAccountToken).toBe(true);
    expect(deployment.template.spec.serviceAccountName).toBe(FULLNAME);

    for (const role of [...find(objects, 'ClusterRole'), ...find(objects, 'Role')]) {
      for (const rule of rules(role)) {
        expect(rule.verbs).not.toContain('*');
        expect(rule.resources ?? []).not.toContain('*');
        expect(rule.apiGroups ?? []).not.toContain('*');
      }
    }
    const operatorRules = rules(only(objects, 'ClusterRole', FULLNAME));
    const verbsOn = (resource: string) =>
      operatorRules.filter((r) => r.resources?.includes(resource)).flatMap((r) => r.verbs);
    // The operator never writes a ModelDeployment's spec, only its status.
    expect(verbsOn('modeldeployments').sort()).toEqual(['get', 'list', 'watch']);
    expect(verbsOn('modeldeployments/status')).toEqual(['patch']);
    expect(verbsOn('pods').sort()).toEqual(['get', 'list', 'watch']);
    expect(verbsOn('secrets')).toEqual([]);
    const lease = rules(only(objects, 'Role', `${FULLNAME}-leader-election`));
    expect(lease).toContainEqual({
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      resourceNames: [FULLNAME],
      verbs: ['get', 'update'],
    });
    const dashboard = only(objects, 'ConfigMap');
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
    const json = (dashboard.data as Record<string, string>)['tensorfleet.json']!;
    expect((JSON.parse(json) as { uid: string }).uid).toBe('tensorfleet-overview');
  });

  it('renders non-default values: namespaced Roles, ServiceMonitor, digest, placement, no dashboard', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const objects = parseManifests(
      await template({
        replicaCount: 3,
        image: { digest, pullPolicy: 'Always' },
        operator: { watchNamespaces: ['team-a', 'team-b'], workers: 8, logLevel: 'debug' },
        serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
        dashboard: { enabled: false },
        podDisruptionBudget: { maxUnavailable: '50%' },
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ops', effect: 'NoSchedule' }],
        resources: { requests: { cpu: '250m', memory: '256Mi' } },
      }),
    );
    const deployment = spec<DeploymentSpec>(only(objects, 'Deployment'));
    expect(deployment.replicas).toBe(3);
    const [container] = deployment.template.spec.containers;
    expect(container!.image).toBe(`ghcr.io/tensorfleet/operator@${digest}`);
    expect(container!.args).toEqual(
      expect.arrayContaining([
        '--watch-namespaces=team-a,team-b',
        '--workers=8',
        '--log-level=debug',
      ]),
    );
    expect(deployment.template.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(deployment.template.spec.tolerations).toHaveLength(1);
    // Helm merges maps: the default memory limit stays unless set to null.
    expect(container!.resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: '512Mi' },
    });
    // Namespaced mode: one Role per watched namespace, no cluster-wide rights on workloads.
    const roles = find(objects, 'Role', FULLNAME);
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    expect(find(objects, 'RoleBinding', FULLNAME)).toHaveLength(2);
    expect(find(objects, 'ClusterRole', FULLNAME)).toEqual([]);
    // Cluster-wide writes remain only in the aggregated roles for users, on ModelDeployments.
    const clusterWrites = find(objects, 'ClusterRole')
      .flatMap(rules)
      .filter((rule) => rule.verbs.some((v) => !['get', 'list', 'watch'].includes(v)));
    expect(clusterWrites.length).toBeGreaterThan(0);
    expect(new Set(clusterWrites.flatMap((rule) => rule.apiGroups ?? []))).toEqual(
      new Set(['tensorfleet.dev']),
    );
    const monitor = only(objects, 'ServiceMonitor');
    expect(monitor.metadata.labels?.release).toBe('prometheus');
    expect(find(objects, 'ConfigMap')).toEqual([]);
    expect(
      spec<{ maxUnavailable: string }>(only(objects, 'PodDisruptionBudget')).maxUnavailable,
    ).toBe('50%');
  });

  it('rejects values the schema does not allow, with the reason', async () => {
    const unknown = await runHelm(helm, [
      'template',
      'x',
      CHART_DIR,
      ...valuesArgs({ replicas: 2 }),
    ]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("additional properties 'replicas' not allowed");
    const level = await runHelm(helm, [
      'template',
      'x',
      CHART_DIR,
      ...valuesArgs({ operator: { logLevel: 'verbose' } }),
    ]);
    expect(level.code).not.toBe(0);
    expect(level.stderr).toContain('/operator/logLevel');
    const noElection = await runHelm(helm, [
      'template',
      'x',
      CHART_DIR,
      ...valuesArgs({ operator: { leaderElection: { enabled: false } } }),
    ]);
    expect(noElection.code).not.toBe(0);
    expect(noElection.stderr).toContain(
      'replicaCount > 1 needs operator.leaderElection.enabled=true',
    );
  });

  it('renders manifests the API server accepts (--dry-run=server), CRD included', async () => {
    for (const values of [{}, installValues()]) {
      const rendered = await template(values, ['--include-crds']);
      const out = await kubectlOk(
        ['apply', '--dry-run=server', '--server-side', '--field-manager=chart-test', '-f', '-'],
        rendered,
      );
      expect(out).toContain(`deployment.apps/${FULLNAME} serverside-applied (server dry run)`);
      expect(out).toContain(
        'customresourcedefinition.apiextensions.k8s.io/modeldeployments.tensorfleet.dev serverside-applied (server dry run)',
      );
    }
  });
});

describe('helm install, the operator on the chart RBAC, helm upgrade', () => {
  let saKubeconfig = '';
  const sa = () => `system:serviceaccount:${release}:${FULLNAME}`;

  it('installs into a namespace enforcing the restricted Pod Security Standard', async () => {
    const { kubeconfigPath } = cluster();
    const out = await helmOk(
      helm,
      ['install', RELEASE, CHART_DIR, '-n', release, ...valuesArgs(installValues())],
      kubeconfigPath,
    );
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain(`kubectl -n ${release} rollout status deployment/${FULLNAME}`);
    // NOTES.txt sends the first model to a namespace the operator watches.
    expect(out).toContain(`kubectl apply -n ${watched} -f - <<'YAML'`);
    expect(out).toContain('helm upgrade` does not update CRDs');
    // kwok runs the (never pulled) operator pods: both replicas get admitted and Ready.
    await kubectlOk([
      'rollout',
      'status',
      '-n',
      release,
      `deployment/${FULLNAME}`,
      '--timeout=60s',
    ]);
    const pods = JSON.parse(await kubectlOk(['get', 'pods', '-n', release, '-o', 'json'])) as {
      items: unknown[];
    };
    expect(pods.items).toHaveLength(2);
  });

  it('runs the operator with a token of the chart ServiceAccount and reconciles an example to Ready', async () => {
    const { kubeconfigPath } = cluster();
    const token = (
      await kubectlOk(['create', 'token', FULLNAME, '-n', release, '--duration=1h'])
    ).trim();
    const admin = yaml.load(await readFile(kubeconfigPath, 'utf8')) as {
      clusters: { name: string; cluster: Record<string, string> }[];
    };
    saKubeconfig = join(workDir, 'operator.kubeconfig');
    await writeFile(
      saKubeconfig,
      yaml.dump({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: admin.clusters[0]!.cluster }],
        users: [{ name: 'operator', user: { token } }],
        contexts: [{ name: 'operator', context: { cluster: 'test', user: 'operator' } }],
        'current-context': 'operator',
      }),
    );
    // The flags the chart gives the operator, with the metrics port moved to loopback.
    const manifest = parseManifests(
      await helmOk(helm, ['get', 'manifest', RELEASE, '-n', release], kubeconfigPath),
    );
    const args = spec<DeploymentSpec>(only(manifest, 'Deployment'))
      .template.spec.containers[0]!.args.filter((a) => !a.startsWith('--http-address'))
      .concat('--http-address=127.0.0.1:0');
    expect(args).toContain(`--watch-namespaces=${watched}`);
    const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: saKubeconfig };
    delete env.KUBERNETES_SERVICE_HOST;
    operatorProcess = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/operator/main.ts'), ...args],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    operatorProcess.stdout!.on('data', (chunk: Buffer) => (operatorLog += chunk.toString()));
    operatorProcess.stderr!.on('data', (chunk: Buffer) => (operatorLog += chunk.toString()));

    await kubectlOk(['apply', '-n', watched, '-f', EXAMPLE]);
    const ready = await eventually(
      'mnist-cpu Ready=True',
      async () => {
        if (operatorProcess?.exitCode !== null) {
          throw new Error(`operator exited ${operatorProcess?.exitCode}:\n${operatorLog}`);
        }
        const md = JSON.parse(
          await kubectlOk(['get', 'md', 'mnist-cpu', '-n', watched, '-o', 'json']),
        ) as {
          metadata: { generation: number };
          status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
        };
        const condition = md.status?.conditions?.find((c) => c.type === 'Ready');
        return condition?.status === 'True' &&
          md.status?.observedGeneration === md.metadata.generation
          ? md
          : undefined;
      },
      90_000,
    );
    expect(ready.status?.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('False');
    // It is this operator that did the work: it holds the Lease and wrote nothing it may not.
    const lease = JSON.parse(
      await kubectlOk(['get', 'lease', FULLNAME, '-n', release, '-o', 'json']),
    ) as { spec: { holderIdentity: string } };
    expect(lease.spec.holderIdentity).toMatch(/_[0-9a-f]{8}$/);
    expect(operatorLog).not.toMatch(/forbidden/i);
    const owned = await kubectlOk([
      'get',
      'deployment,service',
      '-n',
      watched,
      '-l',
      'app.kubernetes.io/managed-by=tensorfleet',
      '-o',
      'name',
    ]);
    expect(owned.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(2);
  });

  it('refuses what the chart RBAC does not grant', async () => {
    const asSa = ['--as', sa()];
    const cannot = async (...what: string[]) => {
      const result = await kubectl(['auth', 'can-i', ...what, ...asSa]);
      expect(result.stdout.trim(), what.join(' ')).toBe('no');
    };
    const can = async (...what: string[]) => {
      const result = await kubectl(['auth', 'can-i', ...what, ...asSa]);
      expect(result.stdout.trim(), what.join(' ')).toBe('yes');
    };
    await can('patch', 'deployments', '-n', watched);
    await can('patch', 'modeldeployments.tensorfleet.dev', '--subresource=status', '-n', watched);
    await can('list', 'nodes');
    await cannot('delete', 'nodes');
    await cannot('get', 'secrets', '-n', watched);
    await cannot('patch', 'modeldeployments.tensorfleet.dev', '-n', watched);
    await cannot('create', 'deployments', '-n', other);
    await cannot('update', 'leases/someone-elses-lease', '-n', release);
    await can('update', `leases/${FULLNAME}`, '-n', release);
    // Whether a watched namespace is being deleted; no other namespace, and no listing.
    await can('get', `namespaces/${watched}`);
    await cannot('get', `namespaces/${other}`);
    await cannot('list', 'namespaces');

    // Real requests with the ServiceAccount's token are refused by the API server (403).
    const asOperator = async (args: string[]) => {
      const { kubectl: binary } = cluster();
      return new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = spawn(binary, ['--kubeconfig', saKubeconfig, ...args]);
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
      });
    };
    const deleteNode = await asOperator(['delete', 'node', 'cpu-0', '--dry-run=server']);
    expect(deleteNode.code).not.toBe(0);
    expect(deleteNode.stderr).toMatch(/forbidden.*cannot delete resource "nodes"/i);
    const editSpec = await asOperator([
      'patch',
      'md',
      'mnist-cpu',
      '-n',
      watched,
      '--type=merge',
      '-p',
      '{"spec":{"replicas":3}}',
    ]);
    expect(editSpec.stderr).toMatch(/forbidden.*cannot patch resource "modeldeployments"/i);
    const elsewhere = await asOperator([
      'create',
      'deployment',
      'intruder',
      '--image=registry.example.com/x:1',
      '-n',
      other,
      '--dry-run=server',
    ]);
    expect(elsewhere.stderr).toMatch(/forbidden.*cannot create resource "deployments"/i);
    const secrets = await asOperator(['get', 'secrets', '-n', watched]);
    expect(secrets.stderr).toMatch(/forbidden.*cannot list resource "secrets"/i);
  });

  it('the all-namespaces mode (no watchNamespaces) grants the same verbs everywhere, and no more', async () => {
    const { kubeconfigPath } = cluster();
    const name = `${RELEASE}w`;
    const fullname = `${name}-tensorfleet`;
    await helmOk(
      helm,
      [
        'install',
        name,
        CHART_DIR,
        '-n',
        release,
        ...valuesArgs({ replicaCount: 1, dashboard: { enabled: false } }),
      ],
      kubeconfigPath,
    );
    try {
      const asSa = ['--as', `system:serviceaccount:${release}:${fullname}`];
      const check = async (expected: 'yes' | 'no', ...what: string[]) => {
        const result = await kubectl(['auth', 'can-i', ...what, ...asSa]);
        expect(result.stdout.trim(), what.join(' ')).toBe(expected);
      };
      for (const ns of [watched, other, 'default']) {
        await check('yes', 'watch', 'modeldeployments.tensorfleet.dev', '-n', ns);
        await check('yes', 'create', 'deployments', '-n', ns);
        await check('yes', 'delete', 'servicemonitors.monitoring.coreos.com', '-n', ns);
        await check('yes', 'patch', 'prometheusrules.monitoring.coreos.com', '-n', ns);
        await check('no', 'update', 'prometheusrules.monitoring.coreos.com', '-n', ns);
        await check('no', 'update', 'deployments', '-n', ns);
        await check('no', 'get', 'secrets', '-n', ns);
        await check('no', 'create', 'pods', '-n', ns);
        await check('yes', 'create', 'resourceclaimtemplates.resource.k8s.io', '-n', ns);
        await check('no', 'create', 'resourceclaims.resource.k8s.io', '-n', ns);
      }
      // DRA: GPU-aware rollouts read devices and claims, and write neither.
      await check('yes', 'list', 'resourceslices.resource.k8s.io');
      await check('yes', 'list', 'resourceclaims.resource.k8s.io', '--all-namespaces');
      await check('yes', 'get', 'deviceclasses.resource.k8s.io/gpu.nvidia.com');
      await check('no', 'update', 'resourceslices.resource.k8s.io');
      await check('no', 'delete', 'nodes');
      await check('no', 'create', 'clusterrolebindings');
      await check('yes', 'update', `leases/${fullname}`, '-n', release);
      await check('no', 'update', `leases/${FULLNAME}`, '-n', release);
    } finally {
      await helmOk(helm, ['uninstall', name, '-n', release, '--wait'], kubeconfigPath);
    }
  });

  it('helm upgrade with changed values leaves the running ModelDeployment and its objects untouched', async () => {
    const { kubeconfigPath } = cluster();
    const snapshot = async () => {
      const get = async (what: string, ns?: string) =>
        JSON.parse(await kubectlOk(['get', what, ...(ns ? ['-n', ns] : []), '-o', 'json'])) as {
          metadata: { uid: string; resourceVersion: string; generation?: number };
        };
      const pick = (o: { metadata: { uid: string; resourceVersion: string } }) =>
        `${o.metadata.uid}@${o.metadata.resourceVersion}`;
      return {
        modelDeployment: pick(await get('md/mnist-cpu', watched)),
        deployment: pick(await get('deployment/mnist-cpu', watched)),
        service: pick(await get('service/mnist-cpu', watched)),
        crd: pick(await get('crd/modeldeployments.tensorfleet.dev')),
      };
    };
    const before = await snapshot();
    const out = await helmOk(
      helm,
      [
        'upgrade',
        RELEASE,
        CHART_DIR,
        '-n',
        release,
        ...valuesArgs({
          ...installValues(),
          replicaCount: 3,
          operator: { ...installValues().operator, logLevel: 'debug', workers: 2 },
          podAnnotations: { 'example.com/upgraded': 'yes' },
          resources: { requests: { cpu: '200m', memory: '192Mi' }, limits: { memory: '384Mi' } },
          dashboard: { enabled: false },
        }),
      ],
      kubeconfigPath,
    );
    expect(out).toContain('REVISION: 2');
    await kubectlOk([
      'rollout',
      'status',
      '-n',
      release,
      `deployment/${FULLNAME}`,
      '--timeout=60s',
    ]);
    const operatorDeployment = JSON.parse(
      await kubectlOk(['get', 'deployment', FULLNAME, '-n', release, '-o', 'json']),
    ) as K8sObject;
    const upgraded = spec<DeploymentSpec>(operatorDeployment);
    expect(upgraded.replicas).toBe(3);
    expect(upgraded.template.spec.containers[0]!.args).toContain('--log-level=debug');
    expect(upgraded.template.metadata.annotations?.['example.com/upgraded']).toBe('yes');
    expect(
      (await kubectl(['get', 'configmap', `${FULLNAME}-dashboard`, '-n', release])).code,
    ).not.toBe(0);
    // Give the running operator a moment to react if anything had changed.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await snapshot()).toEqual(before);
  });

  it('the CRD upgrade command of docs/upgrade.md applies the chart CRD over an installed one', async () => {
    const out = await kubectlOk([
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      join(CHART_DIR, 'crds/tensorfleet.dev_modeldeployments.yaml'),
    ]);
    expect(out).toContain(
      'customresourcedefinition.apiextensions.k8s.io/modeldeployments.tensorfleet.dev serverside-applied',
    );
    await kubectlOk([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/modeldeployments.tensorfleet.dev',
    ]);
    const doc = await readFile(join(ROOT, 'docs/upgrade.md'), 'utf8');
    expect(doc).toContain('kubectl apply --server-side --force-conflicts');
  });

  it('helm uninstall keeps the CRD and the ModelDeployments', async () => {
    operatorProcess?.kill('SIGTERM');
    const { kubeconfigPath } = cluster();
    const out = await helmOk(helm, ['uninstall', RELEASE, '-n', release, '--wait'], kubeconfigPath);
    expect(out).toContain(`release "${RELEASE}" uninstalled`);
    expect((await kubectl(['get', 'clusterrole', `${FULLNAME}-nodes`])).code).not.toBe(0);
    expect((await kubectl(['get', 'role', FULLNAME, '-n', watched])).code).not.toBe(0);
    await kubectlOk(['get', 'crd', 'modeldeployments.tensorfleet.dev']);
    await kubectlOk(['get', 'md', 'mnist-cpu', '-n', watched]);
  });
});
