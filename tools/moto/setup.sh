#!/usr/bin/env bash
# Installs moto's server mode (tools/moto/requirements.txt) into a virtualenv in
# the same cache as the control plane, once:
#
#   ${TENSORFLEET_CACHE:-$HOME/.cache/tensorfleet}/moto-<pin>/
#
# <pin> hashes requirements.txt, so a change installs afresh. Prints the
# virtualenv's bin directory (moto_server, python) on stdout. Needs Python 3
# with venv and PyPI on the first run (about 20 s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TENSORFLEET_CACHE:-${HOME}/.cache/tensorfleet}"
python="${PYTHON:-python3}"

pin="$(sha256sum "${here}/requirements.txt" | cut -c1-10)"
out="${cache}/moto-${pin}"
# A virtualenv records its own path in its scripts, so it is built in place;
# a stamp marks it complete (an interrupted install is redone).
if [[ ! -f "${out}/.complete" ]]; then
	"${python}" -c 'import venv, ensurepip' 2>/dev/null || {
		echo "[moto] error: ${python} with venv is required (sudo apt-get install python3-venv)" >&2
		exit 1
	}
	mkdir -p "${cache}"
	exec 9>"${cache}/moto.lock"
	if command -v flock >/dev/null 2>&1; then flock 9; fi
	if [[ ! -f "${out}/.complete" ]]; then
		echo "[moto] installing moto's server into ${out}" >&2
		rm -rf "${out}"
		"${python}" -m venv "${out}"
		"${out}/bin/pip" install --quiet --disable-pip-version-check -r "${here}/requirements.txt" >&2
		touch "${out}/.complete"
	fi
fi
printf '%s\n' "${out}/bin"
