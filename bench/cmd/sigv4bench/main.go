// Command sigv4bench serves the two endpoints bench/sigv4.sh needs. Each
// prints its base URL as the first stdout line and serves until killed.
//
//	sigv4bench gateway [-profiles-out FILE]
//	    the embedded demo gateway with the sigv4 verifier registered, for as
//	    long as `gwcurl gateway` does not register it itself;
//	sigv4bench sink
//	    an origin that reads and discards every request body and answers
//	    {"bytes": N, "x_amz_content_sha256": "..."} (the payload hash the
//	    client signed): the target of the large signed uploads
//	    (sigv4.sh, upload_hash.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sigv4bench gateway [-profiles-out FILE] | sink")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gateway":
		err = runGateway(os.Args[2:])
	case "sink":
		err = runSink()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigv4bench:", err)
		os.Exit(1)
	}
}

func runGateway(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	profilesOut := fs.String("profiles-out", "", "write the demo profiles to FILE")
	fs.Parse(args)
	cfg, err := gateway.DemoConfig("")
	if err != nil {
		return err
	}
	kinds := gateway.DefaultKinds()
	kinds["sigv4"] = sigv4verify.Factory
	srv, err := gateway.Listen("127.0.0.1:0", cfg, gateway.Options{Kinds: kinds})
	if err != nil {
		return err
	}
	if *profilesOut != "" {
		if err := demoflow.WriteProfiles(*profilesOut, srv.URL); err != nil {
			return err
		}
	}
	fmt.Println(srv.URL)
	waitSignal()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

func runSink() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.CopyBuffer(io.Discard, r.Body, make([]byte, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "{\"bytes\": %d, \"x_amz_content_sha256\": %q}\n", n, r.Header.Get("X-Amz-Content-Sha256"))
	})}
	go srv.Serve(ln)
	waitSignal()
	return srv.Close()
}

func waitSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	<-ch
}
