package explain

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rogpeppe/go-internal/txtar"
)

// Known secrets fed to the scenarios; no explanation may contain one.
const (
	testSignature    = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	testSessionToken = "FwoGZXIvYXdzEXAMPLESESSIONTOKENtokentokentokenTOKEN0123456789"
	testSecretKey    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testCFSecret     = "cf-client-secret-0123456789abcdef"
	testCookieValue  = "session-cookie-value-0123456789abcdef"
	testEmptySHA256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// fixedSecrets are the constant secrets; tokens made with makeJWT are
// checked by the caller.
var fixedSecrets = []string{testSignature, testSessionToken, testSecretKey, testCFSecret, testCookieValue}

// loadRecorded reads testdata/<name>.txtar's "response" file: a raw HTTP
// response as curl -i prints it (LF line ends are accepted).
func loadRecorded(t *testing.T, name string) Received {
	t.Helper()
	a, err := txtar.ParseFile(filepath.Join("testdata", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(a.Comment, []byte("# Source:")) {
		t.Errorf("%s: the archive must start with a '# Source:' comment saying where the format comes from", name)
	}
	for _, f := range a.Files {
		if f.Name != "response" {
			continue
		}
		rec, _, err := parseHTTPResponse(string(f.Data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return rec
	}
	t.Fatalf("%s: no response file", name)
	return Received{}
}

// makeJWT signs claims with HS256 (the diagnosis only decodes tokens).
func makeJWT(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = "test-key-1"
	s, err := tok.SignedString([]byte("test-hmac-key-not-a-secret-of-anyone"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rendered is Render's plain output.
func rendered(fs []Finding) string {
	var b bytes.Buffer
	Render(&b, fs, false)
	return b.String()
}

// assertNoSecrets fails when text contains any of the secrets (or, for a
// JWT, its signature part).
func assertNoSecrets(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range append(append([]string{}, fixedSecrets...), secrets...) {
		if s == "" {
			continue
		}
		if strings.Contains(text, s) {
			t.Errorf("%s leaks a secret %q…:\n%s", where, s[:min(len(s), 12)], text)
		}
		if parts := strings.Split(s, "."); len(parts) == 3 && len(parts[2]) >= 8 && strings.Contains(text, parts[2]) {
			t.Errorf("%s leaks a JWT signature:\n%s", where, text)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
