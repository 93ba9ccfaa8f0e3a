// referrers-registry: go-containerregistry's registry (the one `crane registry serve` runs) with
// the OCI 1.1 referrers API switched on (registry.WithReferrersSupport), which the crane CLI
// leaves off. The referrers tests use it as the registry that serves the API.
//
// Same command line and log as `crane registry serve`, so tests/rig/cranereg.py runs it as is:
//
//	referrers-registry registry serve --address 127.0.0.1:PORT --disk DIR
//
// Built by scripts/install-system-deps (`go build`, versions pinned by go.mod and go.sum).
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	args := os.Args[1:]
	if len(args) >= 2 && args[0] == "registry" && args[1] == "serve" {
		args = args[2:] // crane's sub-command words
	}
	fs := flag.NewFlagSet("referrers-registry", flag.ExitOnError)
	address := fs.String("address", "127.0.0.1:0", "address to listen on")
	disk := fs.String("disk", "", "directory for blobs (in memory without it)")
	_ = fs.Parse(args)

	listener, err := net.Listen("tcp", *address)
	if err != nil {
		log.Fatalln(err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	blobs := registry.NewInMemoryBlobHandler()
	if *disk != "" {
		log.Printf("storing blobs in %s", *disk)
		blobs = registry.NewDiskBlobHandler(*disk)
	}
	s := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: registry.New(
			registry.WithBlobHandler(blobs),
			registry.WithReferrersSupport(true),
		),
	}
	log.Printf("serving on port %d", port)
	log.Fatal(s.Serve(listener))
}
