#!/usr/bin/env bash
# `npm run setup:native`: installs the runtime's native backends, `tensorflow`
# (@tensorflow/tfjs-node) and `tensorflow-gpu` (@tensorflow/tfjs-node-gpu),
# without the download their own install scripts make (libtensorflow from a
# storage bucket this project's machines cannot reach).
#
# 1. libtensorflow from PyPI: TensorFlow's wheels carry its C library
#    (libtensorflow_cc.so.2 with the TF_*/TFE_* C API,
#    libtensorflow_framework.so.2) and its C headers: the tensorflow-cpu wheel
#    a CPU build, the tensorflow wheel a CUDA 12 build (its GPU kernels and
#    CUDA/cuDNN loaded with dlopen when the GPU is first used, so it also runs
#    on a machine without CUDA, on the CPU). Each is unpacked once, laid out as
#    a libtensorflow package (lib/, include/), into
#      ${TENSORFLEET_CACHE:-~/.cache/tensorfleet}/native/libtensorflow-<cpu|gpu>-<tf>/
# 2. The two packages are installed into this clone's node_modules with
#    `npm install --no-save --ignore-scripts` (package.json and the lockfile
#    stay as they are: `npm ci` works without this step), their deps/ point at
#    those libraries, and their addons are built from source with node-gyp
#    against Node's local headers (npm_config_nodedir), once per version pair,
#    then copied from the cache. `npm ci` and `npm install` remove the packages
#    again (they are not in package.json): run this step again, it takes seconds.
# 3. The SavedModels the tests load come from TensorFlow itself: a virtualenv
#    with the same wheel runs tools/native/saved_models.py (once per version
#    and script).
# 4. A check that the backend loads and reports this TensorFlow, then
#    .tensorfleet/native/manifest.json for the tests.
#
# Versions: tools/native/versions.json (tfjs-node must equal the project's
# @tensorflow/tfjs). Needs python3 with venv, a C++ compiler, make, Node's
# headers (found beside node, in /usr/include/node from Debian's libnode-dev
# or nodejs, or wherever npm_config_nodedir says) and the npm registry and
# PyPI on a cold run; nothing after that.
#
# Options, for image builds (docker/runtime-cpu.Dockerfile, runtime-gpu.Dockerfile):
#   --flavor cpu|gpu     install only that backend (default: both)
#   --copy-deps          copy libtensorflow into the package's deps/ instead of
#                        linking it from the cache (a cache mount is not part
#                        of an image layer), and leave no node-gyp build/ tree
#   --skip-saved-models  skip step 3 (the fixtures need TensorFlow's Python
#                        dependencies, hundreds of MB) and the manifest, which
#                        only the tests read
set -euo pipefail

copy_deps=0
saved_models=1
flavors=(cpu gpu)
while [[ $# -gt 0 ]]; do
	case "$1" in
	--copy-deps) copy_deps=1 ;;
	--skip-saved-models) saved_models=0 ;;
	--flavor=cpu | --flavor=gpu) flavors=("${1#--flavor=}") ;;
	--flavor)
		[[ "${2:-}" == cpu || "${2:-}" == gpu ]] || {
			printf '[setup:native] error: --flavor takes cpu or gpu\n' >&2
			exit 2
		}
		flavors=("$2")
		shift
		;;
	*)
		printf '[setup:native] error: unknown option %s (known: --flavor cpu|gpu, --copy-deps, --skip-saved-models)\n' "$1" >&2
		exit 2
		;;
	esac
	shift
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
cache="${TENSORFLEET_CACHE:-${HOME}/.cache/tensorfleet}/native"
python="${PYTHON:-python3}"
started=${SECONDS}

log() { printf '[setup:native] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

version_of() { node -p "require(process.argv[1]).$2" "$1"; }
tf_version="$(version_of "${here}/versions.json" tensorflow)"
tfjs_node_version="$(version_of "${here}/versions.json" tfjsNode)"
# Bump when the way the addon is built changes, so cached addons are rebuilt.
recipe=1

# --- prerequisites -------------------------------------------------------------
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] ||
	die "only Linux x86_64 is set up (the tensorflow-cpu wheels used are manylinux x86_64)"
# Every missing system piece is named in one message, with what installs it.
missing=()
packages=()
if ! command -v "${python}" >/dev/null 2>&1; then
	missing+=("${python}")
	packages+=(python3 python3-venv)
elif ! "${python}" -c 'import venv, ensurepip' 2>/dev/null; then
	missing+=("${python}'s venv/ensurepip")
	packages+=(python3-venv)
fi
command -v c++ >/dev/null 2>&1 || { missing+=("a C++ compiler"); packages+=(g++); }
command -v make >/dev/null 2>&1 || { missing+=(make); packages+=(make); }

# Node's headers, so that node-gyp never downloads them.
nodedir=""
node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
for dir in "${npm_config_nodedir:-}" "${node_prefix}" /usr /usr/local; do
	if [[ -n "${dir}" && -f "${dir}/include/node/node_api.h" && -f "${dir}/include/node/common.gypi" ]]; then
		nodedir="${dir}"
		break
	fi
done
if [[ -z "${nodedir}" ]]; then
	missing+=("Node.js headers (include/node/node_api.h under \$npm_config_nodedir, ${node_prefix}, /usr or /usr/local)")
	packages+=(libnode-dev)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
	joined="$(printf '%s, ' "${missing[@]}")"
	die "the native backend is built from source here and needs: ${joined%, }. Install them with: sudo apt-get install ${packages[*]}"
fi

installed_tfjs="$(cd "${root}" && node -p "require('@tensorflow/tfjs/package.json').version" 2>/dev/null)" ||
	die "@tensorflow/tfjs is not installed: run npm ci first"
[[ "${installed_tfjs}" == "${tfjs_node_version}" ]] ||
	die "the project has @tensorflow/tfjs ${installed_tfjs} but tools/native/versions.json pins tfjs-node ${tfjs_node_version}; keep them equal"

mkdir -p "${cache}"
exec 9>"${cache}/setup.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi
rm -rf "${cache}"/*.tmp.*

# --- 1. libtensorflow from TensorFlow's wheels ------------------------------------
# A virtualenv per TensorFlow and Python version: its pip fetches the wheels
# (no pip needed outside it), and it later gets the CPU wheel installed for
# the SavedModel fixtures (step 3).
py_version="$("${python}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
py_tag="cp${py_version/./}"
venv="${cache}/venv-tensorflow-cpu-${tf_version}-py${py_version}"
venv_python() {
	if [[ ! -x "${venv}/bin/python" ]]; then
		rm -rf "${venv}"
		"${python}" -m venv "${venv}" >&2
	fi
	printf '%s' "${venv}/bin/python"
}
wheels="${cache}/wheels"
# wheel <flavor>: the path of that flavor's wheel, downloaded once.
wheel() {
	local project size found
	case "$1" in
	cpu) project=tensorflow-cpu size=215 ;;
	gpu) project=tensorflow size=591 ;;
	esac
	found="$(find "${wheels}" -maxdepth 1 -name "${project//-/_}-${tf_version}-${py_tag}-*.whl" 2>/dev/null | head -n 1)"
	if [[ -z "${found}" ]]; then
		log "downloading ${project} ${tf_version} (${py_tag}) from PyPI (about ${size} MB)"
		mkdir -p "${wheels}"
		"$(venv_python)" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
			-d "${wheels}" "${project}==${tf_version}" >&2
		found="$(find "${wheels}" -maxdepth 1 -name "${project//-/_}-${tf_version}-${py_tag}-*.whl" | head -n 1)"
		[[ -n "${found}" ]] || die "pip did not leave a ${project} ${tf_version} ${py_tag} wheel in ${wheels}"
	fi
	printf '%s' "${found}"
}

# libtensorflow <flavor>: unpacks the library and headers once; prints the directory.
libtensorflow() {
	local flavor="$1" dir whl tmp
	dir="${cache}/libtensorflow-${flavor}-linux-x86_64-${tf_version}"
	if [[ ! -f "${dir}/.complete" ]]; then
		whl="$(wheel "${flavor}")"
		log "unpacking libtensorflow ${tf_version} (${flavor}) from $(basename "${whl}")"
		tmp="${dir}.tmp.$$"
		rm -rf "${tmp}" "${dir}"
		"${python}" - "${whl}" "${tmp}" <<'PY'
import os, shutil, sys, zipfile

whl, out = sys.argv[1], sys.argv[2]
# The C API surface, as TensorFlow's own libtensorflow archives ship it.
headers = (
    "tensorflow/c/",
    "tensorflow/core/platform/ctstring",
    "tsl/c/",
    "tsl/platform/ctstring",
    "xla/tsl/c/",
)
libs = ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2")
found = set()
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith("/"):
            continue
        if name.startswith("tensorflow/include/") and name[len("tensorflow/include/"):].startswith(headers):
            dest = os.path.join(out, "include", name[len("tensorflow/include/"):])
        elif name in tuple("tensorflow/" + lib for lib in libs):
            dest = os.path.join(out, "lib", os.path.basename(name))
            found.add(os.path.basename(name))
        elif ".dist-info/" in name and os.path.basename(name).startswith("LICENSE"):
            dest = os.path.join(out, os.path.basename(name))
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst)
missing = set(libs) - found
if missing or not os.path.exists(os.path.join(out, "include/tensorflow/c/eager/c_api.h")):
    sys.exit(f"{whl} lacks {sorted(missing) or 'tensorflow/c/eager/c_api.h'}")
PY
		# The names the addon links with (-ltensorflow -ltensorflow_framework); the
		# addon then records the libraries' own sonames (libtensorflow_cc.so.2).
		ln -s libtensorflow_cc.so.2 "${tmp}/lib/libtensorflow.so"
		ln -s libtensorflow_framework.so.2 "${tmp}/lib/libtensorflow_framework.so"
		touch "${tmp}/.complete"
		mv "${tmp}" "${dir}"
		# The GPU wheel serves nothing more (the CPU one installs into the venv, step 3).
		[[ "${flavor}" == cpu ]] || rm -f "${whl}"
	fi
	printf '%s' "${dir}"
}

# --- 2. the packages and their addons -------------------------------------------
package_of() { [[ "$1" == gpu ]] && printf '@tensorflow/tfjs-node-gpu' || printf '@tensorflow/tfjs-node'; }

# Both in one npm install: a later `npm install --no-save` would remove the
# other as extraneous.
install_specs=()
for flavor in "${flavors[@]}"; do
	have="$(node -p "require('${root}/node_modules/$(package_of "${flavor}")/package.json').version" 2>/dev/null || true)"
	[[ "${have}" == "${tfjs_node_version}" ]] || install_specs+=("$(package_of "${flavor}")@${tfjs_node_version}")
done
if [[ ${#install_specs[@]} -gt 0 ]]; then
	specs=()
	for flavor in "${flavors[@]}"; do specs+=("$(package_of "${flavor}")@${tfjs_node_version}"); done
	log "installing ${specs[*]} (not saved to package.json, install scripts skipped)"
	(cd "${root}" && npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error "${specs[@]}" >&2)
fi

# addon <flavor> <libtensorflow dir>: the package's deps/ and addon; prints the cached addon.
addon() {
	local flavor="$1" libtf="$2" pkg expected_lib expected_fw pregyp binding napi_label cached build_log tmp name
	pkg="${root}/node_modules/$(package_of "${flavor}")"
	# deps/ as the package's install script would leave it: lib/ with the
	# libraries (the addon's rpath is $ORIGIN/../../deps/lib) and include/. The
	# libtensorflow.so.<version> names are the ones that script checks before it
	# downloads, should anything run it (npm rebuild).
	expected_lib="$(node -p "require('${pkg}/scripts/deps-constants.js').depsLibTensorFlowName")"
	expected_fw="$(node -p "require('${pkg}/scripts/deps-constants.js').depsLibTensorFlowFrameworkName")"
	rm -rf "${pkg}/deps"
	mkdir -p "${pkg}/deps/lib"
	if [[ ${copy_deps} -eq 1 ]]; then
		cp -a "${libtf}/include" "${pkg}/deps/include"
		cp -a "${libtf}/lib/." "${pkg}/deps/lib/"
	else
		ln -s "${libtf}/include" "${pkg}/deps/include"
		for name in libtensorflow_cc.so.2 libtensorflow_framework.so.2 libtensorflow.so libtensorflow_framework.so; do
			ln -s "${libtf}/lib/${name}" "${pkg}/deps/lib/${name}"
		done
	fi
	ln -s libtensorflow_cc.so.2 "${pkg}/deps/lib/${expected_lib}"
	ln -s libtensorflow_framework.so.2 "${pkg}/deps/lib/${expected_fw}"

	pregyp="$(node -p "require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', { paths: [process.argv[1]] })" "${pkg}")"
	binding="$(node -p "require(require.resolve('@mapbox/node-pre-gyp', { paths: [process.argv[1]] })).find(process.argv[1] + '/package.json')" "${pkg}")"
	napi_label="$(basename "$(dirname "${binding}")")"
	cached="${cache}/addon-$(basename "${pkg}")-${tfjs_node_version}-tf-${tf_version}-${napi_label}-linux-x64-r${recipe}/$(basename "${binding}")"
	if [[ ! -f "${cached}" ]]; then
		log "building the $(basename "${pkg}") addon (${napi_label}) from source against Node headers in ${nodedir}"
		build_log="${cache}/addon-build-${flavor}.log"
		if ! (cd "${pkg}" && npm_config_nodedir="${nodedir}" node "${pregyp}" install --build-from-source) >"${build_log}" 2>&1; then
			tail -n 40 "${build_log}" >&2
			die "building the addon failed (full log: ${build_log})"
		fi
		[[ -f "${binding}" ]] || die "node-pre-gyp finished but ${binding} is missing (log: ${build_log})"
		tmp="$(dirname "${cached}").tmp.$$"
		mkdir -p "${tmp}"
		cp "${binding}" "${tmp}/"
		mv "${tmp}" "$(dirname "${cached}")"
	elif ! cmp -s "${cached}" "${binding}"; then
		# A new file renamed into place: a process that has the old one loaded keeps it.
		mkdir -p "$(dirname "${binding}")"
		cp "${cached}" "${binding}.tmp.$$"
		mv -f "${binding}.tmp.$$" "${binding}"
	fi
	if [[ ${copy_deps} -eq 1 ]]; then
		# node-gyp's objects (node-pre-gyp builds in build-tmp-napi-v*): only the
		# binding above is loaded.
		rm -rf "${pkg}/build" "${pkg}"/build-tmp-*
	fi
	printf '%s' "${cached}"
}

# check <flavor>: the package loads its own libtensorflow (the two builds share
# sonames, so a process can hold one only) and computes.
check() {
	(cd "${root}" && TF_CPP_MIN_LOG_LEVEL=3 node -e '
const [pkg, want] = process.argv.slice(1);
const tf = require(pkg);
const got = tf.backend().binding.TF_Version;
const sum = Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync());
const lib = require("fs").readFileSync("/proc/self/maps", "utf8").split("\n")
  .map((l) => l.split(/\s+/)[5]).find((f) => f && f.endsWith("/libtensorflow_cc.so.2"));
if (tf.getBackend() !== "tensorflow" || got !== want || sum.join() !== "2,3" || !require("fs").realpathSync(lib).startsWith(process.argv[3])) {
  console.error(`${pkg} loaded backend ${tf.getBackend()} on TensorFlow ${got} from ${lib}, computed ${sum}; expected tensorflow on ${want} from ${process.argv[3]}`);
  process.exit(1);
}' "$(package_of "$1")" "${tf_version}" "$(realpath "${root}/node_modules/$(package_of "$1")/deps/lib/libtensorflow_cc.so.2")") ||
		die "$(package_of "$1") does not load or compute"
}

declare -A libtf_dirs addons
for flavor in "${flavors[@]}"; do
	libtf_dirs[${flavor}]="$(libtensorflow "${flavor}")"
	log "libtensorflow ${tf_version} (${flavor}): ${libtf_dirs[${flavor}]}"
	addons[${flavor}]="$(addon "${flavor}" "${libtf_dirs[${flavor}]}")"
done

# --- 3. SavedModels made by TensorFlow -------------------------------------------
if [[ ${saved_models} -eq 1 && ! -f "${venv}/.complete" ]]; then
	whl="$(wheel cpu)"
	log "installing tensorflow-cpu ${tf_version} into ${venv} for the SavedModel fixtures (dependencies from PyPI)"
	"$(venv_python)" -m pip install --quiet --disable-pip-version-check "${whl}" >&2
	touch "${venv}/.complete"
fi
models_key="$(cat "${here}/saved_models.py" | sha256sum | cut -c1-10)"
models="${cache}/saved-models-tf-${tf_version}-${models_key}"
if [[ ${saved_models} -eq 1 && ! -f "${models}/.complete" ]]; then
	log "writing SavedModels with TensorFlow ${tf_version}"
	tmp="${models}.tmp.$$"
	rm -rf "${tmp}"
	TF_CPP_MIN_LOG_LEVEL=2 "${venv}/bin/python" "${here}/saved_models.py" "${tmp}" >&2
	touch "${tmp}/.complete"
	mv "${tmp}" "${models}"
fi

# --- 4. checks and manifest ----------------------------------------------------------
for flavor in "${flavors[@]}"; do
	check "${flavor}"
done
ready="@tensorflow/tfjs-node(-gpu) ${tfjs_node_version} on libtensorflow ${tf_version}: ${flavors[*]}"
if [[ ${saved_models} -eq 0 || ${#flavors[@]} -ne 2 ]]; then
	log "ready in $((SECONDS - started)) s: ${ready}; no manifest (written when both flavors and the SavedModels are set up)"
	exit 0
fi
manifest="${root}/.tensorfleet/native/manifest.json"
mkdir -p "$(dirname "${manifest}")"
cat >"${manifest}.tmp.$$" <<JSON
{
  "schema": 2,
  "tensorflow": "${tf_version}",
  "tfjsNode": "${tfjs_node_version}",
  "libtensorflow": "${libtf_dirs[cpu]}",
  "addon": "${addons[cpu]}",
  "gpu": {
    "libtensorflow": "${libtf_dirs[gpu]}",
    "addon": "${addons[gpu]}"
  },
  "savedModels": "${models}",
  "python": "${venv}/bin/python"
}
JSON
mv "${manifest}.tmp.$$" "${manifest}"
log "ready in $((SECONDS - started)) s: ${ready}; ${manifest}"
