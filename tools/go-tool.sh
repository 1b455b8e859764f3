#!/usr/bin/env bash
# Builds one of the small Go programs under tools/ that the tests run
# (kstatus: kstatus's verdicts; argocd-health: Argo CD's Lua health check on
# gopher-lua; h2spec: the HTTP/2 conformance suite; fake-gcs: fake-gcs-server's
# Cloud Storage emulator) once into the same cache as tools/cluster/build.sh:
#
#   ${TENSORFLEET_CACHE:-$HOME/.cache/tensorfleet}/bin/<tool>-<pin>/<tool>
#
# <pin> hashes the tool's go.mod, go.sum and main.go, so a change builds a
# fresh binary. Prints the binary's path on stdout. Needs Go and the Go module
# proxy on the first run (kstatus, fake-gcs: about 30 s cold; argocd-health: a few s).
#
#   tools/go-tool.sh kstatus
set -euo pipefail

tool="${1:?usage: tools/go-tool.sh <tool>}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/${tool}"
cache="${TENSORFLEET_CACHE:-${HOME}/.cache/tensorfleet}"

[[ -f "${here}/main.go" ]] || {
	echo "[go-tool] error: no tools/${tool}/main.go" >&2
	exit 2
}
command -v go >/dev/null 2>&1 || {
	echo "[go-tool] error: Go is required to build tools/${tool} (see docs/control-plane.md)" >&2
	exit 1
}

pin="$(cat "${here}/go.mod" "${here}/go.sum" "${here}/main.go" | sha256sum | cut -c1-10)"
out="${cache}/bin/${tool}-${pin}"
if [[ ! -x "${out}/${tool}" ]]; then
	mkdir -p "${cache}/bin"
	tmp="${out}.tmp.$$"
	rm -rf "${tmp}"
	mkdir -p "${tmp}"
	echo "[go-tool] building ${out}/${tool}" >&2
	(cd "${here}" && CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" go build -trimpath -ldflags "-s -w" -o "${tmp}/${tool}" .)
	mkdir -p "${out}"
	mv -f "${tmp}/${tool}" "${out}/${tool}"
	rm -rf "${tmp}"
fi
printf '%s\n' "${out}/${tool}"
