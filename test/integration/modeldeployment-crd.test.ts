/**
 * The generated ModelDeployment CRD against a real kube-apiserver: it installs,
 * every example applies, every invalid example is rejected with the message
 * it documents (this is where the CEL rules are proven), and the scale
 * subresource, `kubectl explain` and the printer columns work.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createNamespace, deleteNamespace, kubectl, kubectlOk } from './context.js';
import { MODELDEPLOYMENT_CRD } from './global-setup.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const INVALID = join(EXAMPLES, 'invalid');

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

interface Example {
  readonly file: string;
  readonly text: string;
  readonly objects: KubeObject[];
}

function readExamples(dir: string): Example[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      const objects = yaml
        .loadAll(text)
        .filter((doc): doc is KubeObject => typeof doc === 'object' && doc !== null);
      return { file, text, objects };
    });
}

/**
 * The same documents placed in `namespace`, as a YAML stream for kubectl's
 * stdin. (Not a v1 List: kubectl validates a List on the client side, with
 * messages unlike the API server's.)
 */
function inNamespace(objects: readonly KubeObject[], namespace: string): string {
  return objects
    .map((object) =>
      yaml.dump({ ...object, metadata: { ...object.metadata, namespace } }, { lineWidth: -1 }),
    )
    .join('---\n');
}

const crd = yaml.load(readFileSync(MODELDEPLOYMENT_CRD, 'utf8')) as {
  spec: {
    versions: Array<{
      name: string;
      additionalPrinterColumns?: Array<{ name: string; priority?: number }>;
      schema: { openAPIV3Schema: SchemaNode };
    }>;
  };
};
interface SchemaNode {
  description?: string;
  properties?: Record<string, SchemaNode>;
}
const served = crd.spec.versions.find((version) => version.name === 'v1alpha1');
if (served === undefined) throw new Error(`${MODELDEPLOYMENT_CRD} has no v1alpha1 version`);

let namespace = '';
beforeAll(async () => {
  namespace = await createNamespace('crd');
});
afterAll(async () => {
  if (namespace !== '') await deleteNamespace(namespace);
});

describe('the ModelDeployment CRD', () => {
  it('is stored as generated: another field manager applies the same file without a conflict', async () => {
    // The chart's copy, Argo CD and Flux apply it under their own managers.
    const result = await kubectl(
      ['apply', '--dry-run=server', '--server-side', '--field-manager=another-applier', '-f', '-'],
      readFileSync(MODELDEPLOYMENT_CRD, 'utf8'),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('is established with its names, short name and category', async () => {
    const object = JSON.parse(
      await kubectlOk(['get', 'crd', 'modeldeployments.tensorfleet.dev', '-o', 'json']),
    ) as {
      status: {
        conditions: Array<{ type: string; status: string }>;
        acceptedNames: { shortNames?: string[]; categories?: string[] };
      };
    };
    const status = Object.fromEntries(object.status.conditions.map((c) => [c.type, c.status]));
    expect(status).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
    expect(object.status.acceptedNames.shortNames).toContain('md');
    expect(object.status.acceptedNames.categories).toContain('tensorfleet');
    const resources = await kubectlOk([
      'api-resources',
      '--api-group=tensorfleet.dev',
      '--no-headers',
    ]);
    expect(resources).toMatch(
      /^modeldeployments\s+md\s+tensorfleet\.dev\/v1alpha1\s+true\s+ModelDeployment/m,
    );
  });
});

describe('examples/*.yaml', () => {
  const examples = readExamples(EXAMPLES);

  it('exist', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples.map((example) => [example.file, example] as const))(
    '%s is accepted',
    async (_file, example) => {
      const result = await kubectl(
        ['apply', '--server-side', '--field-manager=tensorfleet-tests', '-f', '-'],
        inNamespace(example.objects, namespace),
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      for (const object of example.objects) {
        expect(result.stdout).toContain(`/${object.metadata.name} serverside-applied`);
      }
    },
  );
});

describe('examples/invalid/*.yaml', () => {
  const examples = readExamples(INVALID);

  it('exist, each naming the error it expects on its first line', () => {
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) expect(example.text, example.file).toMatch(/^# expect: \S/);
  });

  it.each(examples.map((example) => [example.file, example] as const))(
    '%s is rejected',
    async (_file, example) => {
      const expected = /^# expect: (.+)$/m.exec(example.text)?.[1]?.trim() ?? '';
      expect(expected).not.toBe('');
      const result = await kubectl(
        ['create', '--dry-run=server', '-f', '-'],
        inNamespace(example.objects, namespace),
      );
      expect(result.code).not.toBe(0);
      // The API server may wrap long messages; compare with whitespace collapsed.
      expect(result.stderr.replace(/\s+/g, ' ')).toContain(expected.replace(/\s+/g, ' '));
    },
  );
});

describe('kubectl against ModelDeployments', () => {
  const manual = readExamples(EXAMPLES)
    .flatMap((example) => example.objects)
    .find((object) => {
      const autoscaling = object.spec?.autoscaling as { engine?: string } | undefined;
      return object.kind === 'ModelDeployment' && (autoscaling?.engine ?? 'none') === 'none';
    });

  const name = 'kubectl-probe';

  beforeAll(async () => {
    if (manual === undefined) throw new Error('no example with autoscaling.engine none to create');
    await kubectlOk(
      ['apply', '--server-side', '--field-manager=tensorfleet-tests', '-f', '-'],
      inNamespace([{ ...manual, metadata: { name } }], namespace),
    );
  });

  it('kubectl scale md/<name> --replicas=3 sets spec.replicas through the scale subresource', async () => {
    expect(
      await kubectlOk(['get', '-n', namespace, `md/${name}`, '-o', 'jsonpath={.spec.replicas}']),
    ).not.toBe('3');
    const scaled = await kubectlOk(['scale', '-n', namespace, `md/${name}`, '--replicas=3']);
    expect(scaled).toContain(`modeldeployment.tensorfleet.dev/${name} scaled`);
    expect(
      await kubectlOk(['get', '-n', namespace, `md/${name}`, '-o', 'jsonpath={.spec.replicas}']),
    ).toBe('3');
    const scale = JSON.parse(
      await kubectlOk([
        'get',
        '--raw',
        `/apis/tensorfleet.dev/v1alpha1/namespaces/${namespace}/modeldeployments/${name}/scale`,
      ]),
    ) as { kind: string; spec: { replicas: number } };
    expect(scale).toMatchObject({ kind: 'Scale', spec: { replicas: 3 } });
  });

  it('kubectl explain modeldeployment.spec.rollout prints the CRD descriptions', async () => {
    const rollout = served.schema.openAPIV3Schema.properties?.spec?.properties?.rollout;
    expect(rollout?.description).toBeTruthy();
    const output = (await kubectlOk(['explain', 'modeldeployment.spec.rollout'])).replace(
      /\s+/g,
      ' ',
    );
    expect(output).toContain('GROUP: tensorfleet.dev');
    expect(output).toContain('FIELD: rollout');
    expect(output).toContain((rollout?.description ?? '').replace(/\s+/g, ' '));
    for (const [field, schema] of Object.entries(rollout?.properties ?? {})) {
      expect(output).toContain(field);
      if (schema.description !== undefined) {
        // explain shows the first sentence of each field's description beneath its name.
        const words = schema.description.split(/\s+/).slice(0, 4).join(' ');
        expect(output, field).toContain(words);
      }
    }
  });

  it('kubectl get md shows the printer columns', async () => {
    const output = await kubectlOk(['get', 'md', '-n', namespace]);
    const header = (output.split('\n')[0] ?? '').trim().split(/\s{2,}/);
    const columns = (served.additionalPrinterColumns ?? [])
      .filter((column) => (column.priority ?? 0) === 0)
      .map((column) => column.name.toUpperCase());
    expect(header).toEqual(['NAME', ...columns]);
    expect(header).toEqual(
      expect.arrayContaining(['READY', 'REPLICAS', 'VERSION', 'GPU', 'URL', 'AGE']),
    );
    const wide =
      (await kubectlOk(['get', 'md', '-n', namespace, '-o', 'wide'])).split('\n')[0] ?? '';
    for (const column of served.additionalPrinterColumns ?? [])
      expect(wide).toContain(column.name.toUpperCase());
    expect(output).toMatch(new RegExp(`^${name}\\s`, 'm'));
  });

  it('kubectl get tensorfleet lists ModelDeployments through the category', async () => {
    const output = await kubectlOk(['get', 'tensorfleet', '-n', namespace, '-o', 'name']);
    expect(output).toContain(`modeldeployment.tensorfleet.dev/${name}`);
  });
});
