import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { CRD_PATH, crdYAML, generatedFiles } from '../../src/api/generated-files.js';
import { customResourceDefinition, openAPISchema } from '../../src/api/v1alpha1/index.js';
import { makeValidator } from '../../src/api/json-schema.js';

type Schema = Record<string, unknown>;
const root = fileURLToPath(new URL('../../', import.meta.url));

/** Visits every schema node with its dotted path (e.g. spec.rollout.canary). */
function walk(node: Schema, path: string, visit: (node: Schema, path: string) => void): void {
  visit(node, path);
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Schema>)) {
    walk(child, path ? `${path}.${name}` : name, visit);
  }
  if (node.items) walk(node.items as Schema, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object') {
    walk(node.additionalProperties as Schema, `${path}{}`, visit);
  }
}

describe('generated files', () => {
  it.each(generatedFiles().map((f) => [f.path, f.content]))(
    '%s is committed as the generator writes it (run npm run generate)',
    (path, content) => {
      expect(readFileSync(`${root}${path}`, 'utf8')).toBe(content);
    },
  );

  it('the CRD YAML parses back to the built object', () => {
    expect(yaml.load(crdYAML())).toEqual(customResourceDefinition());
    expect(generatedFiles().map((f) => f.path)).toContain(CRD_PATH);
  });
});

describe('CustomResourceDefinition', () => {
  const crd = customResourceDefinition() as {
    spec: {
      names: Record<string, unknown>;
      versions: {
        name: string;
        subresources: Record<string, unknown>;
        additionalPrinterColumns: { name: string; jsonPath: string; priority?: number }[];
      }[];
    };
  };
  const version = crd.spec.versions[0]!;

  it('has the names from the brief', () => {
    expect(crd.spec.names).toMatchObject({
      kind: 'ModelDeployment',
      plural: 'modeldeployments',
      shortNames: ['md'],
      categories: ['tensorfleet'],
    });
    expect(version.name).toBe('v1alpha1');
  });

  it('has status and scale subresources wired to spec.replicas and status.selector', () => {
    expect(version.subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: '.spec.replicas',
        statusReplicasPath: '.status.replicas',
        labelSelectorPath: '.status.selector',
      },
    });
  });

  it('shows Ready, Replicas, Version, Canary, GPU, URL and Age in kubectl get', () => {
    const defaultColumns = version.additionalPrinterColumns
      .filter((c) => !c.priority)
      .map((c) => c.name);
    expect(defaultColumns).toEqual(['Ready', 'Replicas', 'Version', 'Canary', 'GPU', 'URL', 'Age']);
  });

  it('printer columns point at fields that exist in the schema', () => {
    const schema = openAPISchema();
    const paths = new Set<string>();
    walk(schema, '', (_n, p) => paths.add(p));
    for (const column of version.additionalPrinterColumns) {
      const field = column.jsonPath.replace(/^\./, '').replace(/\[\?\(@\.type=="\w+"\)\]/, '[]');
      if (field.startsWith('metadata.')) continue;
      expect(paths, column.name).toContain(field);
    }
  });
});

describe('structural schema', () => {
  const schema = openAPISchema();
  const nodes: [string, Schema][] = [];
  walk(schema, '', (n, p) => nodes.push([p, n]));

  it('every node has a type, or is int-or-string, or preserves unknown fields', () => {
    const untyped = nodes.filter(
      ([, n]) =>
        typeof n.type !== 'string' &&
        n['x-kubernetes-int-or-string'] !== true &&
        n['x-kubernetes-preserve-unknown-fields'] !== true,
    );
    expect(untyped.map(([p]) => p)).toEqual([]);
  });

  it('uses no construct a structural schema forbids', () => {
    for (const [path, n] of nodes) {
      if (n.anyOf) {
        expect(n['x-kubernetes-int-or-string'], path).toBe(true);
        expect(n.anyOf, path).toEqual([{ type: 'integer' }, { type: 'string' }]);
      }
      expect(n.properties && n.additionalProperties, path).toBeFalsy();
      expect(n.additionalProperties, path).not.toBe(false);
      for (const banned of ['$ref', 'const', 'oneOf', 'allOf', 'not', 'patternProperties']) {
        expect(Object.keys(n), path).not.toContain(banned);
      }
    }
  });

  it('has nothing the API server drops when it stores the CRD (empty properties or required)', () => {
    // A dropped node makes the stored CRD differ from the file, and a second
    // field manager applying the same file then conflicts on spec.versions.
    const empty = nodes.filter(
      ([, n]) =>
        (typeof n.properties === 'object' &&
          n.properties !== null &&
          Object.keys(n.properties).length === 0) ||
        (Array.isArray(n.required) && n.required.length === 0),
    );
    expect(empty.map(([p]) => p)).toEqual([]);
  });

  it('describes every field under spec and status (kubectl explain)', () => {
    const undocumented = nodes
      .filter(([p]) => /^(spec|status)/.test(p))
      .filter(([p, n]) => !p.endsWith('[]') && !p.endsWith('{}') && !n.description);
    expect(undocumented.map(([p]) => p)).toEqual([]);
  });

  it('bounds every list (the API server charges CEL cost by maxItems)', () => {
    const unbounded = nodes.filter(([, n]) => n.type === 'array' && !n.maxItems);
    expect(unbounded.map(([p]) => p)).toEqual([]);
  });

  it('every default is valid against its own field schema', () => {
    for (const [path, n] of nodes.filter(([, n]) => n.default !== undefined)) {
      const { default: value, ...field } = n;
      const errors = makeValidator(field)(structuredClone(value));
      expect(errors, `${path} default ${JSON.stringify(value)}`).toEqual([]);
    }
  });

  it('every CEL rule has a message that names the field it is about', () => {
    const rules = nodes.flatMap(([p, n]) =>
      ((n['x-kubernetes-validations'] ?? []) as { rule: string; message: string }[]).map((r) => ({
        path: p,
        ...r,
      })),
    );
    expect(rules.length).toBeGreaterThanOrEqual(14);
    for (const r of rules) {
      expect(r.message, r.rule).toMatch(/[a-z]+\.[a-zA-Z]+|metadata\.name|pvc:\/\//);
    }
  });
});
