import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths (and PEM contents) of the key material a local control plane uses. */
export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
  readonly caPem: string;
  readonly adminCertPem: string;
  readonly adminKeyPem: string;
}

/** Names and addresses the API server's certificate is valid for. */
export const SERVING_DNS_NAMES = [
  'localhost',
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
] as const;

export interface CertificateRequest {
  readonly commonName: string;
  readonly organizations?: readonly string[];
  readonly usage: 'ca' | 'server' | 'client';
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}

/** The openssl configuration (subject plus `ext` section) for one certificate. */
export function opensslConfig(request: CertificateRequest): string {
  const escape = (value: string): string => value.replace(/[\\"]/g, (c) => `\\${c}`);
  const lines = ['[req]', 'distinguished_name = dn', 'prompt = no', 'utf8 = yes', '', '[dn]'];
  (request.organizations ?? []).forEach((org, i) => lines.push(`${i}.O = "${escape(org)}"`));
  lines.push(`CN = "${escape(request.commonName)}"`, '', '[ext]');
  switch (request.usage) {
    case 'ca':
      lines.push(
        'basicConstraints = critical,CA:TRUE',
        'keyUsage = critical,keyCertSign,cRLSign,digitalSignature',
      );
      lines.push('subjectKeyIdentifier = hash');
      break;
    case 'server':
    case 'client':
      lines.push(
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature,keyEncipherment',
      );
      lines.push(`extendedKeyUsage = ${request.usage === 'server' ? 'serverAuth' : 'clientAuth'}`);
      lines.push('authorityKeyIdentifier = keyid');
      break;
  }
  const alt = [
    ...(request.dnsNames ?? []).map((name, i) => `DNS.${i + 1} = ${name}`),
    ...(request.ipAddresses ?? []).map((ip, i) => `IP.${i + 1} = ${ip}`),
  ];
  if (alt.length > 0) lines.push('subjectAltName = @alt', '', '[alt]', ...alt);
  return `${lines.join('\n')}\n`;
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', args, { maxBuffer: 1 << 20 });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const hint =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (install the openssl command)' : '';
    throw new Error(`openssl ${args[0] ?? ''} failed${hint}: ${detail}`);
  }
}

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'] as const;
const DAYS = '3650';

async function selfSignedCa(
  dir: string,
  request: CertificateRequest,
): Promise<{ cert: string; key: string }> {
  const config = join(dir, 'ca.cnf');
  const cert = join(dir, 'ca.crt');
  const key = join(dir, 'ca.key');
  await writeFile(config, opensslConfig(request));
  await openssl(
    ['req', '-x509', '-new', ...KEY_ARGS, '-keyout', key, '-out', cert, '-days', DAYS].concat([
      '-config',
      config,
      '-extensions',
      'ext',
    ]),
  );
  return { cert, key };
}

/** Issues `request` with the CA: `<dir>/<name>.crt` and `.key`. */
export async function signedByCa(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  request: CertificateRequest,
): Promise<{ cert: string; key: string }> {
  const config = join(dir, `${name}.cnf`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await writeFile(config, opensslConfig(request));
  await openssl(['req', '-new', ...KEY_ARGS, '-keyout', key, '-out', csr, '-config', config]);
  await openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-days', DAYS, '-sha256'].concat(
      [
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-extfile',
        config,
        '-extensions',
        'ext',
        '-out',
        cert,
      ],
    ),
  );
  await rm(csr, { force: true });
  return { cert, key };
}

/**
 * Generates, under `dir`, a CA, the API server's serving certificate (valid for
 * 127.0.0.1, the service IP and the in-cluster names), a `system:masters`
 * admin client certificate, and the service-account signing key pair. ECDSA
 * P-256 throughout: fast to generate, accepted by every component.
 */
export async function generatePki(
  dir: string,
  serviceIp: string,
  extraServingIps: readonly string[] = [],
): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await selfSignedCa(dir, { commonName: 'tensorfleet-local-ca', usage: 'ca' });
  const [serving, admin] = await Promise.all([
    signedByCa(dir, 'apiserver', ca, {
      commonName: 'kube-apiserver',
      usage: 'server',
      dnsNames: SERVING_DNS_NAMES,
      ipAddresses: ['127.0.0.1', serviceIp, ...extraServingIps],
    }),
    signedByCa(dir, 'admin', ca, {
      commonName: 'tensorfleet-admin',
      organizations: ['system:masters'],
      usage: 'client',
    }),
  ]);
  const serviceAccount = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const serviceAccountKey = join(dir, 'sa.key');
  const serviceAccountPub = join(dir, 'sa.pub');
  await writeFile(serviceAccountKey, serviceAccount.privateKey, { mode: 0o600 });
  await writeFile(serviceAccountPub, serviceAccount.publicKey);
  const [caPem, adminCertPem, adminKeyPem] = await Promise.all([
    readFile(ca.cert, 'utf8'),
    readFile(admin.cert, 'utf8'),
    readFile(admin.key, 'utf8'),
  ]);
  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountKey,
    serviceAccountPub,
    caPem,
    adminCertPem,
    adminKeyPem,
  };
}
