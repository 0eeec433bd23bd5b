package sign

import (
	"bytes"
	"context"
	"net/http"
	"testing"
)

// BenchmarkSigV4Sign: one SigV4 signature of a GET and of a 1 KiB POST
// (body hashed), with static credentials, as `gwcurl -p PROFILE` signs.
func BenchmarkSigV4Sign(b *testing.B) {
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	a, env := v4StaticAuth("lambda", "us-east-1")
	d, _ := v4Deps(nil, env)
	d.Trace = nil
	s, err := New(context.Background(), a, "http://127.0.0.1:1/aws/echo", d)
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1024)
	for _, tc := range []struct {
		name, method string
		body         []byte
	}{{"get", "GET", nil}, {"post-1KiB", "POST", body}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(tc.method, "http://127.0.0.1:1/aws/echo?b=2&a=1", bytes.NewReader(tc.body))
				if tc.body == nil {
					req.Body = nil
				}
				if err := s.Sign(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
