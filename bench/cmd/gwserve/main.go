// Command gwserve runs the mock gateway for bench/gateway.sh, independently
// of the gwcurl CLI: it listens, prints the base URL as its first stdout
// line, and serves until SIGINT/SIGTERM.
//
//	go run ./bench/cmd/gwserve [-config FILE] [-env NAME] [-listen ADDR] [-log FILE] [-upstream URL] [-cpuprofile FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gwserve:", err)
		os.Exit(1)
	}
}

func run() error {
	config := flag.String("config", "", "gateway config file (default: the embedded demo)")
	env := flag.String("env", "", "environments: overlay to apply")
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	logFile := flag.String("log", "", "request log file (default: discarded)")
	upstream := flag.String("upstream", "", "also route /up (auth none, prefix stripped) to this http:// origin")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile (go tool pprof) of the whole run to FILE")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	var (
		cfg *gateway.Config
		err error
	)
	if *config != "" {
		cfg, err = gateway.LoadConfig(*config, *env)
	} else {
		cfg, err = gateway.DemoConfig(*env)
	}
	if err != nil {
		return err
	}
	if *upstream != "" {
		var none yaml.Node
		if err := yaml.Unmarshal([]byte("{kind: none}"), &none); err != nil {
			return err
		}
		cfg.Routes = append(cfg.Routes, gateway.Route{
			Prefix: "/up", Auth: none.Content[0], Upstream: *upstream,
			StripPrefix: gateway.StripPrefix{Enabled: true},
		})
	}
	var logw io.Writer
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		b := gateway.NewBatchWriter(f) // as `gwcurl gateway` does with stderr
		defer b.Close()
		logw = b
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gateway.GCPercent) // as `gwcurl gateway` does
	}
	s, err := gateway.Listen(*listen, cfg, gateway.Options{Log: logw})
	if err != nil {
		return err
	}
	fmt.Println(s.URL)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}
