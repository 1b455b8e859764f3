// Registry credentials and challenges. Credentials come from a docker
// config.json (what a kubernetes.io/dockerconfigjson pull secret mounts): the
// file TENSORFLEET_OCI_AUTH_FILE names, else $DOCKER_CONFIG/config.json; its
// `auths.<registry>.auth` is base64 "user:password" (or `username`/`password`).
// Without either, a dockerconfigjson pull secret given as the ModelDeployment's
// credentialsSecret is found where the operator mounts its keys.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';

export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages. */
  from: string;
}

/**
 * The key of a kubernetes.io/dockerconfigjson Secret, as a file in the
 * directory the operator mounts a credentialsSecret at (MODEL_CREDENTIALS_DIR
 * in src/api/v1alpha1/spec.ts; the runtime does not import the API package).
 */
export const MOUNTED_PULL_SECRET =
  '/var/run/secrets/tensorfleet/model-credentials/.dockerconfigjson';

/** A registry's key in `auths` may carry a scheme and a path ("https://host/v1/"). */
function keyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

export function credentialsFor(registry: string, env: NodeJS.ProcessEnv): Credentials | undefined {
  const file =
    env['TENSORFLEET_OCI_AUTH_FILE'] ||
    (env['DOCKER_CONFIG'] ? join(env['DOCKER_CONFIG'], 'config.json') : undefined) ||
    (existsSync(MOUNTED_PULL_SECRET) ? MOUNTED_PULL_SECRET : undefined);
  if (file === undefined) return undefined;
  let config: {
    auths?: Record<string, { auth?: unknown; username?: unknown; password?: unknown }>;
  };
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as typeof config;
  } catch (err) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      `registry credentials ${file}: ${(err as NodeJS.ErrnoException).code ?? 'not JSON'}: a docker config.json is expected`,
    );
  }
  const hub = registry === 'docker.io' ? ['index.docker.io', 'registry-1.docker.io'] : [];
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    const host = keyHost(key);
    if (host !== registry && !hub.includes(host)) continue;
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) {
        throw new RuntimeError(
          'CONFIG_INVALID',
          `registry credentials ${file}: auths["${key}"].auth is not base64 of user:password`,
        );
      }
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), from: file };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string') {
      return { username: entry.username, password: entry.password, from: file };
    }
  }
  return undefined;
}

export function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** The first challenge of a WWW-Authenticate header: `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header ?? '');
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of (m[2] ?? '').matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[(p[1] ?? '').toLowerCase()] =
      p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}
