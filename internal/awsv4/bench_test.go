package awsv4

import (
	"testing"
	"time"
)

// BenchmarkCanonicalize: the canonical URI and query of a request with an
// escaped path and a few parameters, then the string to sign and the
// signature, as the gateway's verifier computes them per request.
func BenchmarkCanonicalize(b *testing.B) {
	const path = "/prod/items/caf%C3%A9/a%20b//c/../d"
	const rawQuery = "b=2&a=1&empty=&list=x&list=y&sp%20ace=v%2Fw"
	at := time.Date(2026, 12, 5, 4, 0, 0, 0, time.UTC)
	key := SigningKey("gwcurlDemoSecretKey000000000000000000001", "20261205", "us-east-1", "lambda")
	b.Run("uri", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CanonicalURI(path, PathNormalized); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			q, err := ParseQuery(rawQuery)
			if err != nil {
				b.Fatal(err)
			}
			_ = CanonicalQuery(q)
		}
	})
	b.Run("signing-key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = SigningKey("gwcurlDemoSecretKey000000000000000000001", "20261205", "us-east-1", "lambda")
		}
	})
	b.Run("string-to-sign+signature", func(b *testing.B) {
		creq := "GET\n/prod/items\na=1&b=2\nhost:127.0.0.1:8080\nx-amz-date:20261205T040000Z\n\nhost;x-amz-date\n" + EmptySHA256
		scope := Scope("20261205", "us-east-1", "lambda")
		b.ReportAllocs()
		for b.Loop() {
			_ = Signature(key, StringToSign(at, scope, creq))
		}
	})
}
