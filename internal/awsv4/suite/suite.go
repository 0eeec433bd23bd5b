// Package suite loads the public SigV4 test vectors kept in the repository
// under internal/awsv4/testdata/sigv4-testsuite (see its PROVENANCE.md): the
// aws-c-auth "v4" suite and botocore's copy of the classic "AWS Signature
// Version 4 Test Suite". It is used only by tests of the signer
// (internal/sign) and of the gateway's verifier, so both are checked against
// the same goldens.
package suite

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Credentials of a case.
type Credentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"token"`
}

// Request is a raw HTTP/1.1 request as written in a vector file: the request
// target is kept exactly as written (it may hold a space or raw UTF-8, which
// no HTTP parser accepts).
type Request struct {
	Method string
	Target string // request-target: path and query as written
	Proto  string
	Header http.Header // canonical keys, values in order, obs-fold joined with one space
	Body   []byte
}

// Host is the Host header.
func (r Request) Host() string { return r.Header.Get("Host") }

// Path is the target's path part.
func (r Request) Path() string { p, _, _ := strings.Cut(r.Target, "?"); return p }

// RawQuery is the target's query part (without '?').
func (r Request) RawQuery() string { _, q, _ := strings.Cut(r.Target, "?"); return q }

// Expect is one signing form's expected results.
type Expect struct {
	CanonicalRequest string
	StringToSign     string
	Signature        string
	Authorization    string // header form only
	Signed           Request
}

// Case is one test vector.
type Case struct {
	Suite            string // "aws-c-auth" or "botocore"
	Name             string
	Dir              string
	Request          Request
	Credentials      Credentials
	Region           string
	Service          string
	Time             time.Time
	Normalize        bool // non-S3 path normalization
	SignBody         bool // aws-c-auth: x-amz-content-sha256 is added and signed
	OmitSessionToken bool // the token is added after signing, unsigned
	ExpiresIn        int  // query form: X-Amz-Expires
	Header           Expect
	Query            *Expect          // aws-c-auth only
	PublicKey        *ecdsa.PublicKey // SigV4a: the key the signatures verify under
}

// ID is "suite/name".
func (c Case) ID() string { return c.Suite + "/" + c.Name }

// Dir is the vector directory's path inside the repository.
const Dir = "internal/awsv4/testdata/sigv4-testsuite"

// Locate finds the vector directory inside the repository (the checkout is
// found by walking up from the working directory, a package directory under
// go test, to go.mod). The vectors are part of the repository, so a missing
// directory is a broken checkout and fails the test; it is never skipped.
func Locate(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			cand := filepath.Join(dir, filepath.FromSlash(Dir))
			if _, err := os.Stat(cand); err != nil {
				t.Fatalf("SigV4 test vectors missing from the checkout: %v", err)
			}
			return cand
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("SigV4 test vectors: no go.mod above %s", wd)
		}
	}
}

// Load reads every case of both suites under dir.
func Load(dir string) ([]Case, error) {
	a, err := loadCAuth(filepath.Join(dir, "aws-c-auth-v4"))
	if err != nil {
		return nil, err
	}
	b, err := loadBotocore(filepath.Join(dir, "botocore-aws4_testsuite"))
	if err != nil {
		return nil, err
	}
	all := append(a, b...)
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("suite under %s is incomplete: %d aws-c-auth and %d botocore cases", dir, len(a), len(b))
	}
	return all, nil
}

// LoadV4A reads the aws-c-auth SigV4a cases under dir that have expected
// results (upstream ships two with only a request), each with the public
// key its signatures verify under. Their Signature fields are recorded
// ECDSA signatures: randomised, so they verify but cannot be reproduced.
func LoadV4A(dir string) ([]Case, error) {
	cases, err := loadCAuthDir(filepath.Join(dir, "aws-c-auth-v4a"), true)
	if err != nil {
		return nil, err
	}
	for i := range cases {
		c := &cases[i]
		c.Suite = "aws-c-auth-v4a"
		var k struct{ X, Y string }
		raw, err := os.ReadFile(filepath.Join(c.Dir, "public-key.json"))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Dir, err)
		}
		x, errX := hex.DecodeString(k.X)
		y, errY := hex.DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("%s: public-key.json: want 32-byte hex X and Y", c.Dir)
		}
		if c.PublicKey, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...)); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Dir, err)
		}
	}
	if len(cases) < 30 {
		return nil, fmt.Errorf("SigV4a suite under %s is incomplete: %d cases", dir, len(cases))
	}
	return cases, nil
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

func loadCAuth(root string) ([]Case, error) { return loadCAuthDir(root, false) }

// loadCAuthDir reads an aws-c-auth suite; skipIncomplete passes over cases
// without expected results instead of failing.
func loadCAuthDir(root string, skipIncomplete bool) ([]Case, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "header-canonical-request.txt")); skipIncomplete && os.IsNotExist(err) {
			continue
		}
		var ctx struct {
			Credentials      Credentials `json:"credentials"`
			Expiration       int         `json:"expiration_in_seconds"`
			Normalize        bool        `json:"normalize"`
			Region           string      `json:"region"`
			Service          string      `json:"service"`
			SignBody         bool        `json:"sign_body"`
			Timestamp        string      `json:"timestamp"`
			OmitSessionToken bool        `json:"omit_session_token"`
		}
		raw, err := os.ReadFile(filepath.Join(dir, "context.json"))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		ts, err := time.Parse(time.RFC3339, ctx.Timestamp)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		c := Case{
			Suite: "aws-c-auth", Name: e.Name(), Dir: dir,
			Credentials: ctx.Credentials, Region: ctx.Region, Service: ctx.Service, Time: ts,
			Normalize: ctx.Normalize, SignBody: ctx.SignBody, OmitSessionToken: ctx.OmitSessionToken,
			ExpiresIn: ctx.Expiration,
		}
		if c.Request, err = parseRequestFile(filepath.Join(dir, "request.txt")); err != nil {
			return nil, err
		}
		for _, form := range []string{"header", "query"} {
			var x Expect
			if x.CanonicalRequest, err = readFile(filepath.Join(dir, form+"-canonical-request.txt")); err != nil {
				return nil, err
			}
			if x.StringToSign, err = readFile(filepath.Join(dir, form+"-string-to-sign.txt")); err != nil {
				return nil, err
			}
			if x.Signature, err = readFile(filepath.Join(dir, form+"-signature.txt")); err != nil {
				return nil, err
			}
			x.Signature = strings.TrimSpace(x.Signature)
			if x.Signed, err = parseRequestFile(filepath.Join(dir, form+"-signed-request.txt")); err != nil {
				return nil, err
			}
			if form == "header" {
				x.Authorization = x.Signed.Header.Get("Authorization")
				c.Header = x
			} else {
				c.Query = &x
			}
		}
		cases = append(cases, c)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases, nil
}

// The classic suite fixes these for every case (see its README in botocore).
const (
	botoAccessKey = "AKIDEXAMPLE"
	botoSecret    = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	botoRegion    = "us-east-1"
	botoService   = "service"
	botoTime      = "20150830T123600Z"
)

func loadBotocore(root string) ([]Case, error) {
	var cases []Case
	ts, _ := time.Parse("20060102T150405Z", botoTime)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".req") {
			return err
		}
		dir := filepath.Dir(path)
		base := strings.TrimSuffix(path, ".req")
		name, _ := filepath.Rel(root, dir)
		c := Case{
			Suite: "botocore", Name: filepath.ToSlash(name), Dir: dir,
			Credentials: Credentials{AccessKeyID: botoAccessKey, SecretAccessKey: botoSecret},
			Region:      botoRegion, Service: botoService, Time: ts, Normalize: true,
		}
		if c.Request, err = parseRequestFile(path); err != nil {
			return err
		}
		// The session token of post-sts-token/* travels in the request.
		if tok := c.Request.Header.Get("X-Amz-Security-Token"); tok != "" {
			c.Credentials.SessionToken = tok
		}
		if c.Header.CanonicalRequest, err = readFile(base + ".creq"); err != nil {
			return err
		}
		if c.Header.StringToSign, err = readFile(base + ".sts"); err != nil {
			return err
		}
		authz, err := readFile(base + ".authz")
		if err != nil {
			return err
		}
		c.Header.Authorization = strings.TrimSpace(authz)
		_, sig, ok := strings.Cut(c.Header.Authorization, "Signature=")
		if !ok {
			return fmt.Errorf("%s.authz: no Signature=", base)
		}
		c.Header.Signature = sig
		if c.Header.Signed, err = parseRequestFile(base + ".sreq"); err != nil {
			return err
		}
		// A token in the signed request but not in the canonical request was
		// added after signing (post-sts-header-after).
		if tok := c.Header.Signed.Header.Get("X-Amz-Security-Token"); tok != "" {
			c.Credentials.SessionToken = tok
			c.OmitSessionToken = !strings.Contains(c.Header.CanonicalRequest, "x-amz-security-token:")
		}
		// NOTE: get-vanilla-with-session-token.sreq carries the signature of
		// the token-less request (5fa00fa3…) while its .authz, .creq and .sts
		// agree on 07ec1639…; the .authz is taken as authoritative.
		c.Header.Signed.Header.Set("Authorization", c.Header.Authorization)
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases, nil
}

func parseRequestFile(path string) (Request, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Request{}, err
	}
	r, err := ParseRequest(string(b))
	if err != nil {
		return Request{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseRequest parses a vector's request text. The request line is split at
// its first and last space, so a target with a space in it survives.
func ParseRequest(s string) (Request, error) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	head, body, _ := strings.Cut(s, "\n\n")
	line, rest, _ := strings.Cut(head, "\n")
	i, j := strings.IndexByte(line, ' '), strings.LastIndexByte(line, ' ')
	if i < 0 || j <= i {
		return Request{}, fmt.Errorf("bad request line %q", line)
	}
	r := Request{Method: line[:i], Target: line[i+1 : j], Proto: line[j+1:], Body: []byte(body)}
	hdr := strings.ReplaceAll(rest, "\n", "\r\n") + "\r\n\r\n"
	if rest == "" {
		hdr = "\r\n"
	}
	mh, err := textproto.NewReader(bufio.NewReader(strings.NewReader(hdr))).ReadMIMEHeader()
	if err != nil {
		return Request{}, fmt.Errorf("headers: %w", err)
	}
	r.Header = http.Header(mh)
	return r, nil
}

// Wire renders r as bytes for a real HTTP/1.1 connection (CRLF line ends,
// Content-Length matching the body when the vector gives none).
func (r Request) Wire() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", r.Method, r.Target)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if r.Header.Get("Content-Length") == "" && len(r.Body) > 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(r.Body)
	return []byte(b.String())
}
