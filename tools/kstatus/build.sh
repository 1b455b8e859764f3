#!/usr/bin/env bash
# Builds tools/kstatus (the kstatus verdict printer the health-check tests run)
# once into the same cache as tools/cluster/build.sh:
#
#   ${TENSORFLEET_CACHE:-$HOME/.cache/tensorfleet}/bin/kstatus-<pin>/kstatus
#
# <pin> hashes go.mod, go.sum and main.go, so a change builds a fresh binary.
# Prints the binary's path on stdout. Needs Go and the Go module proxy on the
# first run (sigs.k8s.io/cli-utils and k8s.io/apimachinery; about 30 s cold).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TENSORFLEET_CACHE:-${HOME}/.cache/tensorfleet}"

command -v go >/dev/null 2>&1 || {
	echo "[kstatus:build] error: Go is required (see docs/control-plane.md)" >&2
	exit 1
}

pin="$(cat "${here}/go.mod" "${here}/go.sum" "${here}/main.go" | sha256sum | cut -c1-10)"
out="${cache}/bin/kstatus-${pin}"
if [[ ! -x "${out}/kstatus" ]]; then
	mkdir -p "${cache}/bin"
	tmp="${out}.tmp.$$"
	rm -rf "${tmp}"
	mkdir -p "${tmp}"
	echo "[kstatus:build] building ${out}/kstatus" >&2
	(cd "${here}" && CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" go build -trimpath -ldflags "-s -w" -o "${tmp}/kstatus" .)
	mkdir -p "${out}"
	mv -f "${tmp}/kstatus" "${out}/kstatus"
	rm -rf "${tmp}"
fi
printf '%s\n' "${out}/kstatus"
