import yaml from 'js-yaml';

export interface KubeconfigInput {
  /** Name used for the cluster, user and context entries. */
  readonly name: string;
  /** API server URL, e.g. `https://127.0.0.1:6443`. */
  readonly server: string;
  /** PEM of the CA that signed the API server's serving certificate. */
  readonly caPem: string;
  /** PEM client certificate and key of the user. */
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
  /** Namespace of the context; omitted when undefined. */
  readonly namespace?: string;
}

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

/**
 * Renders a self-contained kubeconfig (certificates inline, so the file can be
 * copied anywhere) with one cluster, one user and one current context.
 */
export function renderKubeconfig(input: KubeconfigInput): string {
  if (!/^https:\/\/[^/]+$/.test(input.server)) {
    throw new Error(
      `server must be an https:// URL without a path, got ${JSON.stringify(input.server)}`,
    );
  }
  for (const [field, pem] of [
    ['caPem', input.caPem],
    ['clientCertPem', input.clientCertPem],
    ['clientKeyPem', input.clientKeyPem],
  ] as const) {
    if (!pem.includes('-----BEGIN ')) throw new Error(`${field} is not PEM`);
  }
  const context: Record<string, string> = { cluster: input.name, user: input.name };
  if (input.namespace !== undefined) context.namespace = input.namespace;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [
      {
        name: input.name,
        cluster: { server: input.server, 'certificate-authority-data': b64(input.caPem) },
      },
    ],
    users: [
      {
        name: input.name,
        user: {
          'client-certificate-data': b64(input.clientCertPem),
          'client-key-data': b64(input.clientKeyPem),
        },
      },
    ],
    contexts: [{ name: input.name, context }],
    'current-context': input.name,
  };
  return yaml.dump(config, { lineWidth: -1, noRefs: true });
}
