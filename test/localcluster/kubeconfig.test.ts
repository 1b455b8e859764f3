import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';

import { renderKubeconfig } from '../../src/localcluster/kubeconfig.js';

const pem = (label: string): string => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;
const input = {
  name: 'tensorfleet-local',
  server: 'https://127.0.0.1:6443',
  caPem: pem('CERTIFICATE'),
  clientCertPem: pem('CERTIFICATE'),
  clientKeyPem: pem('PRIVATE KEY'),
};

interface Kubeconfig {
  apiVersion: string;
  kind: string;
  clusters: Array<{
    name: string;
    cluster: { server: string; 'certificate-authority-data': string };
  }>;
  users: Array<{ name: string; user: Record<string, string> }>;
  contexts: Array<{ name: string; context: Record<string, string> }>;
  'current-context': string;
}

describe('renderKubeconfig', () => {
  it('renders one cluster, user and current context with inline base64 certificates', () => {
    const config = yaml.load(renderKubeconfig(input)) as Kubeconfig;
    expect(config).toMatchObject({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'tensorfleet-local',
    });
    expect(config.clusters).toEqual([
      {
        name: 'tensorfleet-local',
        cluster: {
          server: 'https://127.0.0.1:6443',
          'certificate-authority-data': Buffer.from(input.caPem).toString('base64'),
        },
      },
    ]);
    const user = config.users[0]?.user ?? {};
    expect(Buffer.from(user['client-certificate-data'] ?? '', 'base64').toString()).toBe(
      input.clientCertPem,
    );
    expect(Buffer.from(user['client-key-data'] ?? '', 'base64').toString()).toBe(
      input.clientKeyPem,
    );
    expect(config.contexts).toEqual([
      {
        name: 'tensorfleet-local',
        context: { cluster: 'tensorfleet-local', user: 'tensorfleet-local' },
      },
    ]);
  });

  it('sets the context namespace only when given', () => {
    const config = yaml.load(renderKubeconfig({ ...input, namespace: 'ml' })) as Kubeconfig;
    expect(config.contexts[0]?.context.namespace).toBe('ml');
  });

  it('rejects a server that is not an https origin and key material that is not PEM', () => {
    expect(() => renderKubeconfig({ ...input, server: 'http://127.0.0.1:6443' })).toThrow(/https/);
    expect(() => renderKubeconfig({ ...input, server: 'https://127.0.0.1:6443/api' })).toThrow(
      /without a path/,
    );
    expect(() => renderKubeconfig({ ...input, clientKeyPem: 'secret' })).toThrow(
      /clientKeyPem is not PEM/,
    );
  });
});
