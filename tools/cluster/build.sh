#!/usr/bin/env bash
# Builds the control-plane binaries that Tensorfleet's integration tests and
# embedded cluster run (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, etcd, kwok, helm), those of the real node (kubelet, kube-proxy,
# the OCI registry its images are pulled from) and the monitoring the
# end-to-end tier runs (the Prometheus Operator, its config reloader and
# Prometheus, with promtool for the alerting rule tests), from the Go modules pinned under tools/cluster/,
# once, into a cache outside the clone:
#
#   ${TENSORFLEET_CACHE:-$HOME/.cache/tensorfleet}/bin/<tool>-<version>-<pin>/
#
# <pin> is a hash of the wrapper's go.mod, go.sum and link flags, so a change of
# any pinned dependency builds into a fresh directory. Binaries already present
# are not rebuilt: a warm run takes about a second. The script finishes by
# writing ${cache}/manifest.json, which lists every binary plus the files read
# from the Go module cache (third-party CRDs and kwok stage configs); the
# TypeScript harness (src/localcluster/) reads only that manifest.
#
# KUBEBUILDER_ASSETS: when set to a directory that holds kube-apiserver and
# etcd (controller-runtime's envtest assets), those are used instead of
# building them (and its kubectl too, when present).
#
# Needs Go >= 1.26 and access to the Go module proxy on the first run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TENSORFLEET_CACHE:-${HOME}/.cache/tensorfleet}"
bindir="${cache}/bin"
manifest="${cache}/manifest.json"

export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false -mod=readonly"

log() { printf '[cluster:build] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# What the manifest was built from; src/localcluster/manifest.ts computes the
# same hash to notice a stale cache (keep the file order in step with it).
inputs_hash() {
	local module
	{
		cat "${here}/build.sh"
		for module in crds etcd helm kubernetes kwok registry monitoring prometheus; do
			cat "${here}/${module}/go.mod" "${here}/${module}/go.sum"
		done
		printf 'KUBEBUILDER_ASSETS=%s\n' "${KUBEBUILDER_ASSETS:-}"
	} | sha256sum | cut -d' ' -f1
}

if [[ "${1:-}" == "--print-inputs-hash" ]]; then
	inputs_hash
	exit 0
fi

command -v go >/dev/null 2>&1 || die "Go >= 1.26 is required (https://go.dev/dl/); see docs/control-plane.md"

mkdir -p "${bindir}"

# One build at a time per cache (a test run and a manual build may race).
exec 9>"${cache}/build.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi
# Leftovers of an interrupted build (safe: the lock is held).
rm -rf "${bindir}"/*.tmp.*

# The version of module $2 as required in wrapper $1's go.mod.
required_version() {
	local version
	version="$(sed -nE "s#^[[:space:]]*(require[[:space:]]+)?$2[[:space:]]+(v[^[:space:]]+).*#\2#p" "${here}/$1/go.mod" | head -n 1)"
	[[ -n "${version}" ]] || die "tools/cluster/$1/go.mod does not require $2"
	printf '%s' "${version}"
}

# The directory of module $2@$3 in the Go module cache, resolved (and
# downloaded, checked against go.sum) from wrapper $1.
module_dir() {
	local dir
	dir="$(cd "${here}/$1" && go mod download -json "$2@$3" | sed -nE 's#^[[:space:]]*"Dir": "(.*)",?$#\1#p')"
	[[ -n "${dir}" && -d "${dir}" ]] || die "could not locate $2@$3 in the Go module cache"
	printf '%s' "${dir}"
}

pin_of() {
	local module="$1" ldflags="$2"
	{
		cat "${here}/${module}/go.mod" "${here}/${module}/go.sum"
		printf '%s\n' "${ldflags}" "$(go env GOOS GOARCH)"
	} | sha256sum | cut -c1-10
}

# The file name `go build -o dir/` gives the main package $1: its last path
# element, or the one before it when that is a major version suffix (/v3).
go_binary_name() {
	local base="${1##*/}"
	if [[ "${base}" =~ ^v[0-9]+$ ]]; then
		base="${1%/*}"
		base="${base##*/}"
	fi
	printf '%s' "${base}"
}

# build <wrapper> <outdir> <ldflags> <name>=<package>...
# Builds, with one `go build` so that shared packages compile once, every
# named binary that <outdir> does not hold yet.
build() {
	local module="$1" out="$2" ldflags="$3"
	shift 3
	local pkgs=() names=() spec name
	for spec in "$@"; do
		name="${spec%%=*}"
		if [[ ! -x "${out}/${name}" ]]; then
			names+=("${name}")
			pkgs+=("${spec#*=}")
		fi
	done
	if [[ ${#pkgs[@]} -eq 0 ]]; then
		log "${module}: up to date in ${out}"
		return
	fi
	log "${module}: building ${names[*]} (a cold build of everything took 15 min on 2 idle cores and 24 min on 2 busy ones)"
	local tmp="${out}.tmp.$$" started=${SECONDS}
	rm -rf "${tmp}"
	mkdir -p "${tmp}"
	(cd "${here}/${module}" && go build -trimpath -ldflags "${ldflags}" -o "${tmp}/" "${pkgs[@]}") &
	local pid=$! waited=0
	# go build prints nothing while it compiles: say every minute that it still runs.
	while kill -0 "${pid}" 2>/dev/null; do
		sleep 1
		waited=$((waited + 1))
		if ((waited % 60 == 0)); then
			log "${module}: still building ${names[*]} ($((SECONDS - started)) s so far)"
		fi
	done
	wait "${pid}" || die "${module}: go build failed"
	mkdir -p "${out}"
	local i built
	for i in "${!names[@]}"; do
		built="$(go_binary_name "${pkgs[i]}")"
		[[ -x "${tmp}/${built}" ]] || die "go build did not produce ${built} for ${pkgs[i]}"
		mv -f "${tmp}/${built}" "${out}/${names[i]}"
	done
	rm -rf "${tmp}"
	log "${module}: built ${names[*]} in $((SECONDS - started)) s"
}

# --- versions --------------------------------------------------------------
k8s_version="$(required_version kubernetes k8s.io/kubernetes)"
etcd_version="$(required_version etcd go.etcd.io/etcd/server/v3)"
kwok_version="$(required_version kwok sigs.k8s.io/kwok)"
helm_version="$(required_version helm helm.sh/helm/v3)"
promop_version="$(required_version monitoring github.com/prometheus-operator/prometheus-operator)"
# Prometheus tags its Go module v0.3MM.P for release v3.MM.P.
prom_module_version="$(required_version prometheus github.com/prometheus/prometheus)"
prom_minor="${prom_module_version#v0.}"
prom_minor="${prom_minor%%.*}"
prom_version="v${prom_minor:0:1}.$((10#${prom_minor:1})).${prom_module_version##*.}"
keda_version="$(required_version crds github.com/kedacore/keda/v2)"
gateway_version="$(required_version crds sigs.k8s.io/gateway-api)"
registry_version="$(required_version registry github.com/distribution/distribution/v3)"

k8s_minor="${k8s_version#v1.}"
k8s_minor="${k8s_minor%%.*}"

# Same variables as Kubernetes' hack/lib/version.sh sets, so /version and
# `kubectl version` report the real release.
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	k8s_ldflags+=" -X ${pkg}.gitVersion=${k8s_version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${k8s_minor}"
	k8s_ldflags+=" -X ${pkg}.gitTreeState=clean"
done
etcd_ldflags="-s -w"
kwok_ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${k8s_version}"
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${helm_version} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
registry_ldflags="-s -w -X github.com/distribution/distribution/v3/version.version=${registry_version}"
promop_ldflags="-s -w -X github.com/prometheus/common/version.Version=${promop_version#v} -X github.com/prometheus/common/version.Branch=${promop_version}"
prom_ldflags="-s -w -X github.com/prometheus/common/version.Version=${prom_version#v} -X github.com/prometheus/common/version.Branch=${prom_version}"

k8s_dir="${bindir}/kubernetes-${k8s_version}-$(pin_of kubernetes "${k8s_ldflags}")"
etcd_dir="${bindir}/etcd-${etcd_version}-$(pin_of etcd "${etcd_ldflags}")"
kwok_dir="${bindir}/kwok-${kwok_version}-$(pin_of kwok "${kwok_ldflags}")"
helm_dir="${bindir}/helm-${helm_version}-$(pin_of helm "${helm_ldflags}")"
registry_dir="${bindir}/registry-${registry_version}-$(pin_of registry "${registry_ldflags}")"
promop_bin_dir="${bindir}/prometheus-operator-${promop_version}-$(pin_of monitoring "${promop_ldflags}")"
prom_dir="${bindir}/prometheus-${prom_version}-$(pin_of prometheus "${prom_ldflags}")"

# --- binaries --------------------------------------------------------------
apiserver="${k8s_dir}/kube-apiserver"
etcd="${etcd_dir}/etcd"
kubectl="${k8s_dir}/kubectl"
k8s_targets=(
	kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager
	kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
	kubelet=k8s.io/kubernetes/cmd/kubelet
	kube-proxy=k8s.io/kubernetes/cmd/kube-proxy
)
build_etcd=1
assets="${KUBEBUILDER_ASSETS:-}"
if [[ -n "${assets}" && -x "${assets}/kube-apiserver" && -x "${assets}/etcd" ]]; then
	log "using kube-apiserver and etcd from KUBEBUILDER_ASSETS=${assets}"
	apiserver="${assets}/kube-apiserver"
	etcd="${assets}/etcd"
	build_etcd=0
	if [[ -x "${assets}/kubectl" ]]; then
		kubectl="${assets}/kubectl"
	else
		k8s_targets+=(kubectl=k8s.io/kubernetes/cmd/kubectl)
	fi
else
	[[ -z "${assets}" ]] || log "KUBEBUILDER_ASSETS=${assets} lacks kube-apiserver or etcd; building them"
	k8s_targets+=(
		kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver
		kubectl=k8s.io/kubernetes/cmd/kubectl
	)
fi

build kubernetes "${k8s_dir}" "${k8s_ldflags}" "${k8s_targets[@]}"
if [[ ${build_etcd} -eq 1 ]]; then
	build etcd "${etcd_dir}" "${etcd_ldflags}" etcd=go.etcd.io/etcd/server/v3
fi
build kwok "${kwok_dir}" "${kwok_ldflags}" kwok=sigs.k8s.io/kwok/cmd/kwok
build helm "${helm_dir}" "${helm_ldflags}" helm=helm.sh/helm/v3/cmd/helm
build registry "${registry_dir}" "${registry_ldflags}" registry=github.com/distribution/distribution/v3/cmd/registry
build monitoring "${promop_bin_dir}" "${promop_ldflags}" \
	prometheus-operator=github.com/prometheus-operator/prometheus-operator/cmd/operator \
	prometheus-config-reloader=github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader
build prometheus "${prom_dir}" "${prom_ldflags}" \
	prometheus=github.com/prometheus/prometheus/cmd/prometheus \
	promtool=github.com/prometheus/prometheus/cmd/promtool

# --- files read from the module cache -----------------------------------------
promop_dir="$(module_dir monitoring github.com/prometheus-operator/prometheus-operator "${promop_version}")"
keda_dir="$(module_dir crds github.com/kedacore/keda/v2 "${keda_version}")"
gateway_dir="$(module_dir crds sigs.k8s.io/gateway-api "${gateway_version}")"
kwok_src="$(module_dir kwok sigs.k8s.io/kwok "${kwok_version}")"

promop_crds="${promop_dir}/example/prometheus-operator-crd"
servicemonitors="${promop_crds}/monitoring.coreos.com_servicemonitors.yaml"
prometheusrules="${promop_crds}/monitoring.coreos.com_prometheusrules.yaml"
scaledobjects="${keda_dir}/config/crd/bases/keda.sh_scaledobjects.yaml"
httproutes="${gateway_dir}/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"
stage="${kwok_src}/kustomize/stage"
for file in "${servicemonitors}" "${prometheusrules}" "${promop_crds}/monitoring.coreos.com_prometheuses.yaml" "${scaledobjects}" "${httproutes}" \
	"${stage}/node/fast/node-initialize.yaml" \
	"${stage}/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
	"${stage}/pod/fast/pod-ready.yaml" \
	"${stage}/pod/fast/pod-complete.yaml" \
	"${stage}/pod/fast/pod-delete.yaml"; do
	[[ -f "${file}" ]] || die "expected file missing from the module cache: ${file}"
done

tmp_manifest="${manifest}.tmp.$$"
cat >"${tmp_manifest}" <<EOF
{
  "schema": 1,
  "inputs": "$(inputs_hash)",
  "versions": {
    "kubernetes": "${k8s_version}",
    "etcd": "${etcd_version}",
    "kwok": "${kwok_version}",
    "helm": "${helm_version}",
    "prometheusOperator": "${promop_version}",
    "prometheus": "${prom_version}",
    "keda": "${keda_version}",
    "gatewayAPI": "${gateway_version}",
    "registry": "${registry_version}"
  },
  "binaries": {
    "etcd": "${etcd}",
    "kubeApiserver": "${apiserver}",
    "kubeControllerManager": "${k8s_dir}/kube-controller-manager",
    "kubeScheduler": "${k8s_dir}/kube-scheduler",
    "kubectl": "${kubectl}",
    "kwok": "${kwok_dir}/kwok",
    "helm": "${helm_dir}/helm",
    "kubelet": "${k8s_dir}/kubelet",
    "kubeProxy": "${k8s_dir}/kube-proxy",
    "registry": "${registry_dir}/registry",
    "prometheusOperator": "${promop_bin_dir}/prometheus-operator",
    "prometheusConfigReloader": "${promop_bin_dir}/prometheus-config-reloader",
    "prometheus": "${prom_dir}/prometheus",
    "promtool": "${prom_dir}/promtool"
  },
  "prometheusOperatorCrds": "${promop_crds}",
  "crds": {
    "servicemonitors.monitoring.coreos.com": "${servicemonitors}",
    "prometheusrules.monitoring.coreos.com": "${prometheusrules}",
    "scaledobjects.keda.sh": "${scaledobjects}",
    "httproutes.gateway.networking.k8s.io": "${httproutes}"
  },
  "kwokStages": {
    "node-initialize": "${stage}/node/fast/node-initialize.yaml",
    "node-heartbeat-with-lease": "${stage}/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod-ready": "${stage}/pod/fast/pod-ready.yaml",
    "pod-complete": "${stage}/pod/fast/pod-complete.yaml",
    "pod-delete": "${stage}/pod/fast/pod-delete.yaml"
  }
}
EOF
mv -f "${tmp_manifest}" "${manifest}"
log "manifest: ${manifest}"
