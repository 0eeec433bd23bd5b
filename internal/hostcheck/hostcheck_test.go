package hostcheck

import (
	"net/url"
	"testing"
)

func TestLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "localhost:8080": true,
		"127.0.0.1": true, "127.0.0.2": true, "127.0.0.1:443": true,
		"::1": true, "[::1]": true, "[::1]:8080": true,
		"": false, "example.com": false, "10.0.0.1": false, "127.0.0.1.example.com": false,
		"localhost.example.com": false, "[::2]:80": false, "0.0.0.0": false,
	} {
		if got := Loopback(host); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestSecureURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"https://example.com/x":       true,
		"https://127.0.0.1/":          true,
		"http://127.0.0.1:8080/token": true,
		"http://localhost/":           true,
		"http://[::1]:9/":             true,
		"http://example.com/":         false,
		"http://127.0.0.1.nip.io/":    false,
		"ftp://127.0.0.1/":            false,
		"//127.0.0.1/":                false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := SecureURL(u); got != want {
			t.Errorf("SecureURL(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestRedirectLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "localhost": true,
		"127.0.0.2": false, "LOCALHOST": false, "[::1]": false, "localhost:80": false,
	} {
		if got := RedirectLoopback(host); got != want {
			t.Errorf("RedirectLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
