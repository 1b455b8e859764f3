// Pins the third-party modules whose CustomResourceDefinitions are installed
// into Tensorfleet's test cluster (the Prometheus Operator's come from
// tools/cluster/monitoring, which builds it), read straight from the Go module cache by
// tools/cluster/build.sh (never copied into this repository). Nothing is
// compiled from this module; run `go mod download` rather than `go mod tidy`.
module tensorfleet.dev/tools/cluster/crds

go 1.25.0

require (
	// ScaledObject: config/crd/bases/keda.sh_scaledobjects.yaml
	github.com/kedacore/keda/v2 v2.21.0
	// HTTPRoute: config/crd/standard/gateway.networking.k8s.io_httproutes.yaml
	sigs.k8s.io/gateway-api v1.6.3
)
