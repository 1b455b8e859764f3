// oci://<registry>/<repository>:<tag> and oci://<registry>/<repository>@sha256:<digest>
// references, and how the registry is reached: https, or plain http for a
// loopback registry or one listed in TENSORFLEET_OCI_INSECURE_REGISTRIES (as
// containerd treats them).

import { RuntimeError } from '../errors.js';

export interface OciReference {
  /** host[:port] as written, e.g. "ghcr.io" or "127.0.0.1:5000". */
  registry: string;
  repository: string;
  tag: string | undefined;
  /** sha256:<64 hex>, when the reference pins one. */
  digest: string | undefined;
}

// The distribution spec's grammar for repository path components and tags.
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const REGISTRY = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

const FORM = 'oci://<registry>/<repository>:<tag> or oci://<registry>/<repository>@sha256:<digest>';

function invalid(uri: string, why: string): RuntimeError {
  return new RuntimeError('CONFIG_INVALID', `model URI "${uri}" ${why}; use ${FORM}`);
}

export function parseOciUri(uri: string): OciReference {
  const rest = uri.slice('oci://'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) throw invalid(uri, 'names no registry and repository');
  const registry = rest.slice(0, slash);
  if (!REGISTRY.test(registry)) throw invalid(uri, `has an invalid registry "${registry}"`);
  let name = rest.slice(slash + 1);
  let digest: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw invalid(uri, `has an invalid digest "${digest}" (sha256: and 64 lowercase hex digits)`);
    }
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon >= 0) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(uri, `has an invalid tag "${tag}"`);
  }
  if (!REPOSITORY.test(name)) {
    throw invalid(uri, `has an invalid repository "${name}" (lowercase path components)`);
  }
  if (tag === undefined && digest === undefined) {
    throw invalid(uri, 'names neither a tag nor a digest');
  }
  // Docker Hub's API lives on another host, and its official images under library/.
  if (registry === 'docker.io' && !name.includes('/')) name = `library/${name}`;
  return { registry, repository: name, tag, digest };
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The registry's base URL: plain http only for loopback or listed registries. */
export function registryBaseUrl(registry: string, env: NodeJS.ProcessEnv): string {
  const insecure = (env['TENSORFLEET_OCI_INSECURE_REGISTRIES'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const host = registry.replace(/:[0-9]+$/, '');
  const http = isLoopback(host) || insecure.includes(registry) || insecure.includes(host);
  const apiHost = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  return `${http ? 'http' : 'https'}://${apiHost}`;
}

/** oci:// has no directories of versions: one reference is one version. */
export function refuseOciBasePath(base: string): void {
  if (!base.startsWith('oci://')) return;
  throw new RuntimeError(
    'CONFIG_INVALID',
    `${base}: oci:// cannot be a base path of version directories; give it as --model-uri (a new tag or digest is a new version that rolls out)`,
  );
}
