package suite

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVectorsInRepository loads both SigV4 suites from the repository and
// checks that each vector is self-consistent: the last line of every string
// to sign is the SHA-256 of its canonical request.
func TestVectorsInRepository(t *testing.T) {
	dir := Locate(t)
	// go test runs in this package's directory, internal/awsv4/suite.
	if want, _ := filepath.Abs(filepath.Join("..", "testdata", "sigv4-testsuite")); dir != want {
		t.Fatalf("Locate = %s, want the repository's %s", dir, want)
	}
	cases, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, c := range cases {
		counts[c.Suite]++
		forms := []Expect{c.Header}
		if c.Query != nil {
			forms = append(forms, *c.Query)
		}
		for _, x := range forms {
			if got, want := lastLine(x.StringToSign), hexSHA256(x.CanonicalRequest); got != want {
				t.Errorf("%s: string to sign ends %q, want sha256(canonical request) %q", c.ID(), got, want)
			}
		}
	}
	// The numbers of cases in the copied suites (see PROVENANCE.md).
	if counts["aws-c-auth"] < 30 || counts["botocore"] < 30 {
		t.Errorf("cases per suite = %v, want at least 30 each", counts)
	}
}

// TestSigV4aVectors checks the aws-c-auth SigV4a vectors as they stand: the
// string to sign hashes the canonical request, and the recorded ECDSA P-256
// signatures (randomised, so not reproducible) verify under the case's
// public key, in the signature file and in the signed request alike.
func TestSigV4aVectors(t *testing.T) {
	root := filepath.Join(Locate(t), "aws-c-auth-v4a")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		// Upstream ships two cases (get-vanilla-query-order-key and -value)
		// with only context.json and request.txt: nothing to compare.
		if _, err := os.Stat(filepath.Join(dir, "header-string-to-sign.txt")); os.IsNotExist(err) {
			continue
		}
		n++
		pub := readPublicKey(t, filepath.Join(dir, "public-key.json"))
		for _, form := range []string{"header", "query"} {
			creq := mustRead(t, filepath.Join(dir, form+"-canonical-request.txt"))
			sts := mustRead(t, filepath.Join(dir, form+"-string-to-sign.txt"))
			if got, want := lastLine(sts), hexSHA256(creq); got != want {
				t.Errorf("%s %s: string to sign ends %q, want %q", e.Name(), form, got, want)
			}
			if !strings.HasPrefix(sts, "AWS4-ECDSA-P256-SHA256\n") {
				t.Errorf("%s %s: string to sign does not name AWS4-ECDSA-P256-SHA256", e.Name(), form)
			}
			digest := sha256.Sum256([]byte(sts))
			sig, err := hex.DecodeString(strings.TrimSpace(mustRead(t, filepath.Join(dir, form+"-signature.txt"))))
			if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
				t.Errorf("%s %s: recorded signature does not verify (%v)", e.Name(), form, err)
			}
			signed, err := parseRequestFile(filepath.Join(dir, form+"-signed-request.txt"))
			if err != nil {
				t.Fatal(err)
			}
			var inReq string
			if form == "header" {
				_, inReq, _ = strings.Cut(signed.Header.Get("Authorization"), "Signature=")
			} else {
				_, q, _ := strings.Cut(signed.RawQuery(), "X-Amz-Signature=")
				inReq, _, _ = strings.Cut(q, "&")
			}
			sig, err = hex.DecodeString(inReq)
			if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
				t.Errorf("%s %s: signature in the signed request does not verify (%v)", e.Name(), form, err)
			}
		}
	}
	if n < 30 {
		t.Errorf("%d SigV4a cases, want at least 30", n)
	}
}

func readPublicKey(t *testing.T, path string) *ecdsa.PublicKey {
	t.Helper()
	var k struct{ X, Y string }
	if err := json.Unmarshal([]byte(mustRead(t, path)), &k); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	x, errX := hex.DecodeString(k.X)
	y, errY := hex.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		t.Fatalf("%s: want 32-byte hex X and Y", path)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pub
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	s, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
