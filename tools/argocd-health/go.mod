// Builds the Argo CD health-check evaluator used by the chart's health tests
// (see tools/go-tool.sh).
module tensorfleet.dev/tools/argocd-health

go 1.26.0

require github.com/yuin/gopher-lua v1.1.1
