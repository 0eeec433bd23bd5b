package sign

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

// benchEnvDeps are Deps with the test key in the environment, as
// `gwcurl --auth sigv4` sees it when AWS_ACCESS_KEY_ID is exported.
func benchEnvDeps() Deps {
	env := map[string]string{"AWS_ACCESS_KEY_ID": v4Key.AccessKeyID, "AWS_SECRET_ACCESS_KEY": v4Key.SecretAccessKey}
	return Deps{Profile: "bench", Getenv: func(k string) string { return env[k] }, Stderr: io.Discard}
}

// BenchmarkSigV4EnvironmentGET is one `gwcurl --auth sigv4 GET` worth of
// signing work with keys in the environment: the signer built (credentials
// resolved) and one bodiless GET signed. It reads no file and dials nothing.
func BenchmarkSigV4EnvironmentGET(b *testing.B) {
	ctx := context.Background()
	a := profiles.Auth{Kind: "sigv4", Service: "lambda", Region: "us-east-1"}
	d := benchEnvDeps()
	const target = "http://127.0.0.1:9/aws/echo?b=2&a=1"
	b.ReportAllocs()
	for b.Loop() {
		s, err := New(ctx, a, target, d)
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err := s.Sign(ctx, req); err != nil {
			b.Fatal(err)
		}
		if req.Header.Get("Authorization") == "" {
			b.Fatal("not signed")
		}
	}
}
