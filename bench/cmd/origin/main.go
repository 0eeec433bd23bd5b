// Command origin serves internal/testorigin on 127.0.0.1 for the benchmark
// scripts. It prints its base URL as the first line of stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gwcurl/gwcurl/internal/testorigin"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "origin:", err)
		os.Exit(1)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	mux := http.NewServeMux()
	mux.Handle("/", testorigin.Handler())
	mux.HandleFunc("/sink/", sink)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "origin:", err)
		os.Exit(1)
	}
}

// sink reads the request body to its end and discards it (the echo
// endpoints keep it in memory, which a 1 GiB upload benchmark cannot
// afford). It answers the byte count and the payload hash the client
// signed, so the benchmark can check both against the file.
func sink(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{ //nolint:errcheck // the client sees a short answer
		"body_length":          n,
		"x_amz_content_sha256": r.Header.Get("X-Amz-Content-Sha256"),
	})
}
