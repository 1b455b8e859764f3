#!/usr/bin/env bash
# Installs the real gRPC clients the runtime's gRPC tests run, once, into the
# same cache as the control plane:
#
#   ${TENSORFLEET_CACHE:-$HOME/.cache/tensorfleet}/grpc-clients-<pin>/
#     bin/python            a virtualenv with tensorflow-serving-api and
#                           tritonclient[grpc] (tools/grpc-clients/requirements.txt)
#     bin/grpc-health-probe grpc-ecosystem/grpc-health-probe, built from the Go module proxy
#
# <pin> hashes this script and requirements.txt, so a change installs afresh.
# Prints the bin directory on stdout. Needs Python 3 with venv, Go, and PyPI
# and the Go module proxy on the first run (about a minute; tensorflow-cpu's
# wheel comes from tools/native/setup.sh's cache when it is there).
#
#   tools/grpc-clients/setup.sh --check   prints the directory if it is installed,
#                                         else fails (exit 3) without installing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TENSORFLEET_CACHE:-${HOME}/.cache/tensorfleet}"
python="${PYTHON:-python3}"
serving_api="tensorflow-serving-api==2.16.1"
probe="github.com/grpc-ecosystem/grpc-health-probe@v0.4.63"

pin="$(cat "${here}/setup.sh" "${here}/requirements.txt" | sha256sum | cut -c1-10)"
out="${cache}/grpc-clients-${pin}"
# A virtualenv records its own path in its scripts, so it is built in place;
# a stamp marks it complete (an interrupted install is redone).
if [[ "${1:-}" == "--check" && ! -f "${out}/.complete" ]]; then
	echo "[grpc-clients] not installed: run bash tools/grpc-clients/setup.sh (.ci/run does)" >&2
	exit 3
fi
if [[ ! -f "${out}/.complete" ]]; then
	"${python}" -c 'import venv, ensurepip' 2>/dev/null || {
		echo "[grpc-clients] error: ${python} with venv is required (sudo apt-get install python3-venv)" >&2
		exit 1
	}
	command -v go >/dev/null 2>&1 || {
		echo "[grpc-clients] error: Go is required to build grpc-health-probe (see docs/control-plane.md)" >&2
		exit 1
	}
	mkdir -p "${cache}"
	exec 9>"${cache}/grpc-clients.lock"
	if command -v flock >/dev/null 2>&1; then flock 9; fi
	if [[ ! -f "${out}/.complete" ]]; then
		echo "[grpc-clients] installing the gRPC test clients into ${out}" >&2
		rm -rf "${out}"
		"${python}" -m venv "${out}"
		links=()
		[[ -d "${cache}/native/wheels" ]] && links=(--find-links "${cache}/native/wheels")
		"${out}/bin/pip" install --quiet --disable-pip-version-check "${links[@]}" -r "${here}/requirements.txt" >&2
		"${out}/bin/pip" install --quiet --disable-pip-version-check --no-deps "${serving_api}" >&2
		GOBIN="${out}/bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -trimpath -ldflags "-s -w" "${probe}" >&2
		touch "${out}/.complete"
	fi
fi
printf '%s\n' "${out}/bin"
