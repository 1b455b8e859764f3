import { describe, expect, it } from 'vitest';

import {
  apiserverArgs,
  controllerManagerArgs,
  etcdArgs,
  kwokArgs,
  schedulerArgs,
} from '../../src/localcluster/flags.js';

const flag = (args: readonly string[], name: string): string | undefined =>
  args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);

describe('component flags', () => {
  it('etcd listens on loopback only and skips fsync', () => {
    const args = etcdArgs({ dataDir: '/d', clientPort: 2379, peerPort: 2380 });
    expect(flag(args, 'listen-client-urls')).toBe('http://127.0.0.1:2379');
    expect(flag(args, 'initial-cluster')).toBe('tensorfleet=http://127.0.0.1:2380');
    expect(flag(args, 'unsafe-no-fsync')).toBe('true');
  });

  const apiserverInput = {
    etcdClientPort: 2379,
    securePort: 6443,
    certDir: '/c',
    servingCert: '/s.crt',
    servingKey: '/s.key',
    clientCa: '/ca.crt',
    serviceAccountKey: '/sa.key',
    serviceAccountPub: '/sa.pub',
    serviceAccountAdmission: false,
  };

  it('kube-apiserver binds and advertises loopback with RBAC and Node authorization', () => {
    const args = apiserverArgs(apiserverInput);
    expect(flag(args, 'bind-address')).toBe('127.0.0.1');
    expect(flag(args, 'advertise-address')).toBe('127.0.0.1');
    expect(flag(args, 'endpoint-reconciler-type')).toBe('none');
    expect(flag(args, 'authorization-mode')).toBe('Node,RBAC');
    expect(flag(args, 'etcd-servers')).toBe('http://127.0.0.1:2379');
    expect(flag(args, 'service-account-signing-key-file')).toBe('/sa.key');
  });

  it('kube-apiserver drops ServiceAccount admission only without the controller manager', () => {
    expect(flag(apiserverArgs(apiserverInput), 'disable-admission-plugins')).toBe('ServiceAccount');
    expect(
      flag(
        apiserverArgs({ ...apiserverInput, serviceAccountAdmission: true }),
        'disable-admission-plugins',
      ),
    ).toBeUndefined();
  });

  it('controllers run without leader election on loopback, signing with the cluster keys', () => {
    const input = { kubeconfig: '/k', securePort: 10257, certDir: '/cm' };
    const cm = controllerManagerArgs({
      ...input,
      caCert: '/ca.crt',
      caKey: '/ca.key',
      serviceAccountKey: '/sa.key',
    });
    expect(flag(cm, 'leader-elect')).toBe('false');
    expect(flag(cm, 'service-account-private-key-file')).toBe('/sa.key');
    expect(flag(cm, 'root-ca-file')).toBe('/ca.crt');
    const scheduler = schedulerArgs(input);
    expect(flag(scheduler, 'bind-address')).toBe('127.0.0.1');
    expect(flag(scheduler, 'authentication-kubeconfig')).toBe('/k');
  });

  it('kwok manages only annotated nodes and loads every stage file', () => {
    const args = kwokArgs({
      kubeconfig: '/k',
      serverPort: 1,
      stageFiles: ['/a.yaml', '/b.yaml'],
      nodeSelector: 'x=y',
    });
    expect(flag(args, 'manage-nodes-with-annotation-selector')).toBe('x=y');
    expect(args.filter((arg) => arg.startsWith('--config='))).toEqual([
      '--config=/a.yaml',
      '--config=/b.yaml',
    ]);
  });
});
