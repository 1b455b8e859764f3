// kstatus prints the verdict of sigs.k8s.io/cli-utils' kstatus library (the
// status computation Flux and kpt use) for each object given on stdin, so
// Tensorfleet's tests can compare it with the Argo CD health check.
//
// Input: one JSON array of Kubernetes objects. Output: one JSON array, in the
// same order, of {"status": "Current|InProgress|Failed|...", "message": "..."}.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	// apimachinery's decoder keeps integers as int64, as the API server's
	// clients see them (encoding/json would make every number a float64).
	var objects []map[string]interface{}
	if err := utiljson.Unmarshal(data, &objects); err != nil {
		return fmt.Errorf("reading a JSON array of objects from stdin: %w", err)
	}
	verdicts := make([]verdict, 0, len(objects))
	for i, object := range objects {
		result, err := status.Compute(&unstructured.Unstructured{Object: object})
		if err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		verdicts = append(verdicts, verdict{Status: result.Status.String(), Message: result.Message})
	}
	return json.NewEncoder(out).Encode(verdicts)
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}
