// h2spec's conformance suite (RFC 7540/9113 and RFC 7541) as a small program
// the transport tests run against the runtime's own HTTP/2 server on loopback:
//
//	h2spec -port 8500 -junit report.xml [section ...]
package main

import (
	"flag"
	"os"
	"time"

	"github.com/summerwind/h2spec"
	"github.com/summerwind/h2spec/config"
)

func main() {
	host := flag.String("host", "127.0.0.1", "server host")
	port := flag.Int("port", 0, "server port")
	path := flag.String("path", "/", "request path")
	timeout := flag.Int("timeout", 2, "seconds to wait for each answer")
	junit := flag.String("junit", "", "JUnit XML report file")
	strict := flag.Bool("strict", false, "also run the strict cases")
	flag.Parse()
	ok, err := h2spec.Run(&config.Config{
		Host:         *host,
		Port:         *port,
		Path:         *path,
		Timeout:      time.Duration(*timeout) * time.Second,
		MaxHeaderLen: 4000,
		JUnitReport:  *junit,
		Strict:       *strict,
		Sections:     flag.Args(),
	})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}
