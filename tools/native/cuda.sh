#!/usr/bin/env bash
# tools/native/cuda.sh <dest>: the CUDA and cuDNN libraries the GPU build of
# libtensorflow loads, from the NVIDIA wheels tools/native/cuda-requirements.txt
# pins by hash, unpacked as
#   <dest>/lib64/     every shared library of the wheels' lib/ directories
#   <dest>/licenses/  each wheel's License.txt, as <project>.txt
#   <dest>/SHA256SUMS
# For docker/runtime-gpu.Dockerfile (its CUDA layer) and the GPU check
# (tools/native/gpu-check.sh). Needs python3 with venv and PyPI; a <dest>
# already complete is left as it is.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:?usage: tools/native/cuda.sh <dest>}"
python="${PYTHON:-python3}"
log() { printf '[cuda] %s\n' "$*" >&2; }

[[ -f "${dest}/.complete" ]] && exit 0
work="$(mktemp -d "${TMPDIR:-/tmp}/tensorfleet-cuda.XXXXXX")"
trap 'rm -rf "${work}"' EXIT
"${python}" -m venv "${work}/venv" >&2
log "downloading the CUDA 12 and cuDNN wheels (about 1.6 GB; hashes in tools/native/cuda-requirements.txt)"
"${work}/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
	--require-hashes -r "${here}/cuda-requirements.txt" -d "${work}/wheels" >&2
rm -rf "${dest}.tmp"
"${python}" - "${work}/wheels" "${dest}.tmp" <<'PY'
import hashlib, os, shutil, sys, zipfile

wheels, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "lib64"))
os.makedirs(os.path.join(out, "licenses"))
for whl in sorted(os.listdir(wheels)):
    project = whl.split("-")[0].replace("_", "-")
    with zipfile.ZipFile(os.path.join(wheels, whl)) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) == 4 and parts[0] == "nvidia" and parts[2] == "lib" and ".so" in parts[3]:
                dest = os.path.join(out, "lib64", parts[3])
            elif parts[-1] == "License.txt" and parts[0].endswith(".dist-info"):
                dest = os.path.join(out, "licenses", project + ".txt")
            else:
                continue
            with z.open(info) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(dest, 0o755 if ".so" in dest else 0o644)
with open(os.path.join(out, "SHA256SUMS"), "w") as sums:
    for name in sorted(os.listdir(os.path.join(out, "lib64"))):
        with open(os.path.join(out, "lib64", name), "rb") as f:
            sums.write(f"{hashlib.file_digest(f, 'sha256').hexdigest()}  lib64/{name}\n")
PY
touch "${dest}.tmp/.complete"
rm -rf "${dest}"
mv "${dest}.tmp" "${dest}"
log "$(ls "${dest}/lib64" | wc -l) libraries in ${dest}/lib64 ($(du -sh "${dest}/lib64" | cut -f1))"
