// oci://<registry>/<repository>:<tag> or @sha256:<digest> model sources: a
// model pushed to an OCI registry, pulled over the distribution API. The tag
// is resolved to a manifest digest once (an index's linux/amd64 entry, or its
// only one); that digest is the model's version identity (in `describe`, so
// the fetch log names it) and every blob is pulled by digest and checked
// against its descriptor's size and sha256. Two layouts:
//  - an artifact (ORAS style): each layer carries an
//    org.opencontainers.image.title annotation, its file name; a tar(+gzip)
//    layer titled "<dir>/" (or marked for unpacking, as ORAS marks a
//    directory) is unpacked into the model directory;
//  - an image (KServe modelcar): tar layers whose files under /models are the
//    model, applied in order with their whiteouts.

import { createHash } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { FetchError, readText, saveBody } from './download.js';
import { applyLayer, layerTar } from './oci-layer.js';
import type { OciReference } from './oci-reference.js';
import { parseOciUri } from './oci-reference.js';
import { OciRegistryClient } from './oci-registry.js';
import type { ModelSource, RemoteFile } from './source.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MANIFESTS = [OCI_MANIFEST, DOCKER_MANIFEST];
const INDEXES = [OCI_INDEX, DOCKER_LIST];
const TAR_LAYERS = [
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
];
const TITLE = 'org.opencontainers.image.title';
const UNPACK = 'io.deis.oras.content.unpack';
const SHA256 = /^sha256:[0-9a-f]{64}$/;

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

/** How a downloaded layer becomes model files. */
interface Layer {
  desc: Descriptor;
  /** Maps an archive path to a model path; absent for a layer that is one file. */
  place?: (path: string) => string | undefined;
  /** The image's last layer: after it, the model must have files. */
  last?: boolean;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function mediaTypeOf(json: { mediaType?: unknown }, res: Response): string {
  if (typeof json.mediaType === 'string') return json.mediaType;
  return (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
}

export class OciSource implements ModelSource {
  private readonly uri: string;
  private readonly ref: OciReference;
  private readonly client: OciRegistryClient;
  private digest: string | undefined;
  private readonly layers = new Map<string, Layer>();

  constructor(uri: string, env: NodeJS.ProcessEnv = process.env) {
    this.uri = uri;
    this.ref = parseOciUri(uri);
    this.client = new OciRegistryClient(this.ref, env);
  }

  /** The URI, and once resolved the manifest digest it names: the version's identity. */
  get describe(): string {
    return this.digest === undefined || this.ref.digest !== undefined
      ? this.uri
      : `${this.uri}@${this.digest}`;
  }

  private get name(): string {
    return `${this.ref.registry}/${this.ref.repository}`;
  }

  /** GETs a manifest (or index) by tag or digest and checks its digest. */
  private async manifest(
    reference: string,
    signal: AbortSignal | undefined,
  ): Promise<{ digest: string; mediaType: string; json: Record<string, unknown> }> {
    const what = `${this.name}:${reference}`.replace(/:sha256:/, '@sha256:');
    const res = await this.client.get(
      `manifests/${reference}`,
      `resolving ${what}`,
      [...MANIFESTS, ...INDEXES].join(', '),
      signal,
    );
    if (res.status === 404) {
      const code = await OciRegistryClient.errorCode(res);
      const message =
        code === 'NAME_UNKNOWN' || !(await this.repositoryExists(signal))
          ? `repository ${this.ref.repository} not found on registry ${this.ref.registry}`
          : `${SHA256.test(reference) ? 'manifest' : 'tag'} ${reference} not found in repository ${this.name}`;
      throw new FetchError(
        'FETCH_NOT_FOUND',
        `${message} (HTTP 404${code ? ` ${code}` : ''})`,
        false,
      );
    }
    const body = Buffer.from(await res.arrayBuffer());
    const digest = sha256(body);
    const announced = res.headers.get('docker-content-digest');
    const expected = SHA256.test(reference) ? reference : announced;
    if (expected !== null && SHA256.test(expected) && expected !== digest) {
      throw new FetchError(
        'FETCH_CHECKSUM_MISMATCH',
        `${what}: the manifest's digest is ${digest}, not ${expected}`,
        true,
      );
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new FetchError('FETCH_FAILED', `${what}: the manifest is not JSON`, false);
    }
    return { digest, mediaType: mediaTypeOf(json, res), json };
  }

  /** Whether the repository exists (a registry may answer MANIFEST_UNKNOWN for a missing one). */
  private async repositoryExists(signal: AbortSignal | undefined): Promise<boolean> {
    const res = await this.client.get(
      'tags/list',
      `listing the tags of ${this.name}`,
      undefined,
      signal,
    );
    await readText(res);
    return res.status !== 404;
  }

  async list(signal?: AbortSignal): Promise<RemoteFile[]> {
    const first = await this.manifest(this.ref.digest ?? this.ref.tag ?? '', signal);
    let manifest = first;
    if (INDEXES.includes(first.mediaType)) {
      const entries = (first.json['manifests'] ?? []) as Descriptor[];
      const chosen =
        entries.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ??
        (entries.length === 1 ? entries[0] : undefined);
      if (chosen === undefined || !SHA256.test(chosen.digest)) {
        const platforms = entries.map((m) => `${m.platform?.os}/${m.platform?.architecture}`);
        throw new FetchError(
          'FETCH_NOT_FOUND',
          `${this.uri}: the index ${first.digest} has no linux/amd64 manifest (it lists ${platforms.join(', ') || 'none'})`,
          false,
        );
      }
      manifest = await this.manifest(chosen.digest, signal);
    }
    if (!MANIFESTS.includes(manifest.mediaType)) {
      throw new FetchError(
        'FETCH_FAILED',
        `${this.uri}: unsupported manifest media type "${manifest.mediaType}"; supported: ${[...MANIFESTS, ...INDEXES].join(', ')}`,
        false,
      );
    }
    // The version is the manifest the reference names (an index's digest for an index).
    this.digest = first.digest;
    return this.plan((manifest.json['layers'] ?? []) as Descriptor[]);
  }

  /** The files to download: one per single-file layer, one per layer to unpack. */
  private plan(layers: Descriptor[]): RemoteFile[] {
    this.layers.clear();
    const files: RemoteFile[] = [];
    const artifact = layers.some((l) => l.annotations?.[TITLE] !== undefined);
    layers.forEach((desc, i) => {
      if (!SHA256.test(desc.digest) || !Number.isSafeInteger(desc.size) || desc.size < 0) {
        throw new FetchError(
          'FETCH_FAILED',
          `${this.uri}: layer ${i} has an unsupported digest ${JSON.stringify(desc.digest)} or size (sha256 only)`,
          false,
        );
      }
      const title = desc.annotations?.[TITLE];
      const tar = TAR_LAYERS.includes(desc.mediaType ?? '');
      // A layer to unpack downloads under a hidden name at the top of the model directory.
      const hidden = `.oci-layer-${i}`;
      if (artifact) {
        if (title === undefined) return; // Not a file of the artifact (ORAS skips these too).
        // ORAS marks a directory it pushed with an unpack annotation; a trailing "/" says the same.
        if ((title.endsWith('/') || desc.annotations?.[UNPACK] === 'true') && tar) {
          const dir = title.replace(/\/+$/, '');
          const place = (p: string): string =>
            p === dir ? '' : p.startsWith(`${dir}/`) ? p.slice(dir.length + 1) : p;
          this.layers.set(hidden, { desc, place });
          files.push({ path: hidden, size: desc.size });
          return;
        }
        const path = posix.normalize(title);
        if (
          path !== title ||
          path.startsWith('/') ||
          path.split('/').includes('..') ||
          path.startsWith('.oci-layer-')
        ) {
          throw new FetchError(
            'FETCH_FAILED',
            `${this.uri}: layer ${i} has an unsafe title ${JSON.stringify(title)}`,
            false,
          );
        }
        this.layers.set(path, { desc });
        files.push({ path, size: desc.size });
        return;
      }
      if (!tar) {
        throw new FetchError(
          'FETCH_FAILED',
          `${this.uri}: layer ${i} has unsupported media type "${desc.mediaType}" (an image's layers must be tar or tar+gzip; an artifact's carry ${TITLE})`,
          false,
        );
      }
      const place = (p: string): string | undefined =>
        p === 'models' ? '' : p.startsWith('models/') ? p.slice('models/'.length) : undefined;
      this.layers.set(hidden, { desc, place, last: i === layers.length - 1 });
      files.push({ path: hidden, size: desc.size });
    });
    if (files.length === 0) {
      throw new FetchError('FETCH_NOT_FOUND', `${this.uri}: the manifest has no layers`, false);
    }
    return files;
  }

  async download(file: RemoteFile, dest: string, signal?: AbortSignal): Promise<number> {
    const layer = this.layers.get(file.path);
    if (layer === undefined)
      throw new FetchError('FETCH_FAILED', `${this.uri}: no layer for ${file.path}`, false);
    const { digest, size } = layer.desc;
    const what = `blob ${digest} of ${this.name}`;
    const res = await this.client.get(`blobs/${digest}`, `downloading ${what}`, undefined, signal);
    if (res.status === 404) {
      await readText(res);
      throw new FetchError('FETCH_NOT_FOUND', `${what} not found (HTTP 404)`, false);
    }
    const hash = createHash('sha256');
    const bytes = await saveBody(res, dest, what, undefined, (chunk) => hash.update(chunk));
    if (bytes !== size) {
      throw new FetchError(
        'FETCH_SIZE_MISMATCH',
        `${what}: received ${bytes} bytes but the manifest says ${size}`,
        true,
      );
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== digest) {
      throw new FetchError(
        'FETCH_CHECKSUM_MISMATCH',
        `${what}: the download's digest is ${actual} (corrupted in transit, or the registry serves other content)`,
        true,
      );
    }
    if (layer.place !== undefined) {
      const archive = await layerTar(dest, what);
      try {
        await applyLayer(archive, dirname(dest), layer.place, what);
      } finally {
        await rm(archive, { force: true });
      }
      if (layer.last && (await readdir(dirname(dest))).length === 0) {
        throw new FetchError(
          'FETCH_NOT_FOUND',
          `${this.describe}: the image has no files under /models (the modelcar layout)`,
          false,
        );
      }
    }
    return bytes;
  }
}
