// fake-gcs serves github.com/fsouza/fake-gcs-server's Cloud Storage emulator
// (in memory, plain HTTP) on 127.0.0.1 for Tensorfleet's gs:// tests, and adds
// what the emulator leaves out and those tests need (see tools/go-tool.sh):
//
//   - bearer-token checks as Cloud Storage answers them: with -token given, a
//     request needs one of those tokens (401 otherwise), a -deny-token is known
//     but has no access (403), and a -public-bucket can be read anonymously;
//   - -max-results, a small page size for object listings, so that a test with
//     a handful of objects exercises pagination;
//   - one line per request on stdout, after the first line (the base URL), so a
//     test can see which token reached the store.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func contains(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// gcsError writes Cloud Storage's JSON error body.
func gcsError(w http.ResponseWriter, status int, reason, message string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	body := map[string]any{"error": map[string]any{
		"code": status, "message": message,
		"errors": []map[string]string{{"domain": "global", "reason": reason, "message": message}},
	}}
	_ = json.NewEncoder(w).Encode(body)
}

// bucketOf returns the bucket a JSON-API path names ("/storage/v1/b/<bucket>/...",
// "/download/storage/v1/b/<bucket>/...", "/upload/storage/v1/b/<bucket>/...").
func bucketOf(path string) string {
	i := strings.Index(path, "/b/")
	if i == -1 {
		return ""
	}
	rest := path[i+3:]
	if j := strings.IndexByte(rest, '/'); j != -1 {
		rest = rest[:j]
	}
	return rest
}

type gate struct {
	tokens, denied, public list
	maxResults             string
	out                    io.Writer
	mu                     sync.Mutex
	next                   http.Handler
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	g.mu.Lock()
	fmt.Fprintf(g.out, "%s %s %s\n", r.Method, r.URL.RequestURI(), strings.ReplaceAll(orDash(auth), " ", "_"))
	g.mu.Unlock()
	if len(g.tokens) > 0 {
		token, bearer := strings.CutPrefix(auth, "Bearer ")
		bucket := bucketOf(r.URL.Path)
		switch {
		case auth == "" && r.Method == http.MethodGet && contains(g.public, bucket):
		case auth == "":
			gcsError(w, 401, "required", "Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist).")
			return
		case bearer && contains(g.denied, token):
			gcsError(w, 403, "forbidden", fmt.Sprintf("caller does not have storage.objects.get access to the Google Cloud Storage bucket %s. Permission denied on resource (or it may not exist).", bucket))
			return
		case !bearer || !contains(g.tokens, token):
			gcsError(w, 401, "authError", "Invalid Credentials")
			return
		}
	}
	if g.maxResults != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/o") && r.URL.Query().Get("maxResults") == "" {
		q := r.URL.Query()
		q.Set("maxResults", g.maxResults)
		r.URL.RawQuery = q.Encode()
	}
	g.next.ServeHTTP(w, r)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func main() {
	g := &gate{out: os.Stdout}
	flag.Var(&g.tokens, "token", "a bearer token with access (repeatable); none: no checks")
	flag.Var(&g.denied, "deny-token", "a bearer token without access: 403 (repeatable)")
	flag.Var(&g.public, "public-bucket", "a bucket anyone may read (repeatable)")
	flag.StringVar(&g.maxResults, "max-results", "", "page size of object listings that name none")
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any free one)")
	flag.Parse()

	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake-gcs:", err)
		os.Exit(1)
	}
	url := "http://" + listener.Addr().String()
	server, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", NoListener: true, ExternalURL: url,
		PublicHost: listener.Addr().String(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake-gcs:", err)
		os.Exit(1)
	}
	g.next = server.HTTPHandler()
	fmt.Println(url)
	if err := http.Serve(listener, g); err != nil {
		fmt.Fprintln(os.Stderr, "fake-gcs:", err)
		os.Exit(1)
	}
}
