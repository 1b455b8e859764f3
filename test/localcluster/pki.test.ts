import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generatePki, opensslConfig, type Pki } from '../../src/localcluster/pki.js';

const run = promisify(execFile);

describe('opensslConfig', () => {
  it('writes a server certificate with its names and addresses', () => {
    const config = opensslConfig({
      commonName: 'api',
      usage: 'server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    expect(config).toContain('extendedKeyUsage = serverAuth');
    expect(config).toContain('subjectAltName = @alt');
    expect(config).toMatch(/^DNS\.1 = localhost$/m);
    expect(config).toMatch(/^IP\.1 = 127\.0\.0\.1$/m);
  });

  it('writes groups as organizations of a client certificate, quoted', () => {
    const config = opensslConfig({
      commonName: 'admin "x"',
      organizations: ['system:masters'],
      usage: 'client',
    });
    expect(config).toContain('0.O = "system:masters"');
    expect(config).toContain('CN = "admin \\"x\\""');
    expect(config).toContain('extendedKeyUsage = clientAuth');
    expect(config).not.toContain('subjectAltName');
  });
});

describe('generatePki', () => {
  let dir = '';
  let pki: Pki;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tensorfleet-pki-'));
    pki = await generatePki(dir, '10.96.0.1');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('issues a serving certificate valid for loopback, the service IP and the in-cluster names', async () => {
    const ca = new X509Certificate(await readFile(pki.caCert));
    const serving = new X509Certificate(await readFile(pki.servingCert));
    expect(ca.ca).toBe(true);
    expect(serving.checkIssued(ca)).toBe(true);
    expect(serving.verify(ca.publicKey)).toBe(true);
    expect(serving.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(serving.checkIP('10.96.0.1')).toBe('10.96.0.1');
    expect(serving.checkHost('kubernetes.default.svc.cluster.local')).toBe(
      'kubernetes.default.svc.cluster.local',
    );
    expect(serving.keyUsage).toContain('1.3.6.1.5.5.7.3.1');
    const { stdout } = await run('openssl', [
      'verify',
      '-CAfile',
      pki.caCert,
      pki.servingCert,
      pki.adminCert,
    ]);
    expect(stdout).toContain(`${pki.servingCert}: OK`);
  });

  it('issues an admin client certificate in system:masters', () => {
    const admin = new X509Certificate(pki.adminCertPem);
    expect(admin.subject).toContain('O=system:masters');
    expect(admin.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
    expect(admin.checkPrivateKey(createPrivateKey(pki.adminKeyPem))).toBe(true);
  });

  it('writes a service-account key pair whose halves match', async () => {
    const privateKey = createPrivateKey(await readFile(pki.serviceAccountKey));
    const publicKey = createPublicKey(await readFile(pki.serviceAccountPub));
    expect(createPublicKey(privateKey).export({ format: 'pem', type: 'spki' })).toBe(
      publicKey.export({ format: 'pem', type: 'spki' }),
    );
  });
});
