package awsv4

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestURIEncode(t *testing.T) {
	for _, tt := range []struct {
		in        string
		keepSlash bool
		want      string
	}{
		{"-._~AZaz09", false, "-._~AZaz09"},
		{"a b+c/d", false, "a%20b%2Bc%2Fd"},
		{"a b+c/d", true, "a%20b%2Bc/d"},
		{"ሴ", false, "%E1%88%B4"},
		{"%2F", true, "%252F"},
		{"$&'()*,;=:@!", false, "%24%26%27%28%29%2A%2C%3B%3D%3A%40%21"},
	} {
		if got := URIEncode(tt.in, tt.keepSlash); got != tt.want {
			t.Errorf("URIEncode(%q, %v) = %q, want %q", tt.in, tt.keepSlash, got, tt.want)
		}
	}
}

func TestDecodePercent(t *testing.T) {
	for in, want := range map[string]string{"a%20b": "a b", "a+b": "a+b", "%e1%88%b4": "ሴ", "plain": "plain", "%25": "%"} {
		if got, err := DecodePercent(in); err != nil || got != want {
			t.Errorf("DecodePercent(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"%", "%2", "%zz", "a%g1"} {
		if _, err := DecodePercent(bad); !errors.Is(err, ErrBadEscape) {
			t.Errorf("DecodePercent(%q): err = %v", bad, err)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/": "/", "//": "/", "/./": "/", "/example/..": "/", "/example1/example2/../..": "/",
		"/./example": "/example", "//example//": "/example/", "/a/b/../c/./d/": "/a/c/d/", "/a/..b": "/a/..b",
		"/../a": "/a", "/a%2F..": "/a%2F..",
	} {
		if got := NormalizePath(in); got != want {
			t.Errorf("NormalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalURI(t *testing.T) {
	for _, tt := range []struct {
		in   string
		mode PathMode
		want string
	}{
		{"/a%20b//c/../d", PathNormalized, "/a%2520b/d"},
		{"/a%20b//c/../d", PathS3, "/a%20b//c/../d"},
		{"/a=b$c+d", PathS3, "/a%3Db%24c%2Bd"},
		{"/a%2Fb", PathS3, "/a/b"},
		{"//x", PathEncodedOnly, "//x"},
		{"", PathNormalized, "/"},
	} {
		got, err := CanonicalURI(tt.in, tt.mode)
		if err != nil || got != tt.want {
			t.Errorf("CanonicalURI(%q, %d) = %q, %v; want %q", tt.in, tt.mode, got, err, tt.want)
		}
	}
	if _, err := CanonicalURI("/a%zz", PathS3); err == nil {
		t.Error("a bad escape in an S3 path is accepted")
	}
}

func TestQuery(t *testing.T) {
	ps, err := ParseQuery("b=2&a=x+y&&flag&a=1&%E1%88%B4=%c3%a9&s=a%20b&k=v;w")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := EncodeQuery(ps), "b=2&a=x%2By&flag&a=1&%E1%88%B4=%C3%A9&s=a%20b&k=v%3Bw"; got != want {
		t.Errorf("EncodeQuery = %q, want %q", got, want)
	}
	if got, want := CanonicalQuery(ps), "%E1%88%B4=%C3%A9&a=1&a=x%2By&b=2&flag=&k=v%3Bw&s=a%20b"; got != want {
		t.Errorf("CanonicalQuery = %q, want %q", got, want)
	}
	// Sorting happens after encoding: "a/b" (a%2Fb) sorts before "a-b".
	ps, _ = ParseQuery("k=a-b&k=a/b")
	if got := CanonicalQuery(ps); got != "k=a%2Fb&k=a-b" {
		t.Errorf("CanonicalQuery = %q", got)
	}
	if _, err := ParseQuery("a=%zz"); err == nil {
		t.Error("a bad escape is accepted")
	}
}

func TestTrimAll(t *testing.T) {
	for in, want := range map[string]string{"  a   b  ": "a b", "\"a   b   c\"": "\"a b c\"", "x": "x", "\ta\t": "a", "": ""} {
		if got := TrimAll(in); got != want {
			t.Errorf("TrimAll(%q) = %q, want %q", in, got, want)
		}
	}
}

// The get-vanilla vector of the AWS test suite, computed with this
// package's primitives.
func TestSignatureVector(t *testing.T) {
	cr := "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + EmptySHA256
	at := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	sts := StringToSign(at, Scope("20150830", "us-east-1", "service"), cr)
	if !strings.HasSuffix(sts, "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63") {
		t.Errorf("string to sign = %q", sts)
	}
	sig := Signature(SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service"), sts)
	if sig != "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" {
		t.Errorf("signature = %s", sig)
	}
	if !IsHexSHA256(sig) || IsHexSHA256(strings.ToUpper(sig)) || IsHexSHA256(sig[:63]) {
		t.Error("IsHexSHA256")
	}
	if Redact("abcdefghij") != "abcdef…" || Redact("abc") != "***" {
		t.Error("Redact")
	}
}

// Encoding round-trips: whatever a caller puts in a name or value comes
// back unchanged, and the wire form parses to the same canonical query.
func FuzzQueryRoundTrip(f *testing.F) {
	for _, s := range []string{"a=b", "q=a+b&p=x%2Fy", "%E1%88%B4=bar&flag", "k=a;b&&z="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ps, err := ParseQuery(raw)
		if err != nil {
			return
		}
		wire := EncodeQuery(ps)
		again, err := ParseQuery(wire)
		if err != nil {
			t.Fatalf("EncodeQuery(%q) = %q does not parse: %v", raw, wire, err)
		}
		if CanonicalQuery(ps) != CanonicalQuery(again) {
			t.Fatalf("canonical query changed through the wire form: %q -> %q", raw, wire)
		}
	})
}

func FuzzURIEncode(f *testing.F) {
	for _, s := range []string{"a b", "ሴ", "%", "/a+b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := URIEncode(s, true)
		dec, err := DecodePercent(enc)
		if err != nil || dec != s {
			t.Fatalf("DecodePercent(URIEncode(%q)) = %q, %v", s, dec, err)
		}
		if c, err := CanonicalURI(enc, PathS3); enc != "" && (err != nil || c != enc) {
			t.Fatalf("CanonicalURI(%q, S3) = %q, %v", enc, c, err)
		}
	})
}
