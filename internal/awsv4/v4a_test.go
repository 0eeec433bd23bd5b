package awsv4

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The derived key of the aws-c-auth vectors' credentials is the public key
// every SigV4a vector names.
func TestDeriveV4AKeyMatchesVectors(t *testing.T) {
	dirs, err := filepath.Glob("testdata/sigv4-testsuite/aws-c-auth-v4a/*/public-key.json")
	if err != nil || len(dirs) < 30 {
		t.Fatalf("public keys: %d files, %v", len(dirs), err)
	}
	var keys V4AKeys
	for _, path := range dirs {
		var k struct{ X, Y string }
		var ctx struct {
			Credentials struct {
				AccessKeyID string `json:"access_key_id"`
				Secret      string `json:"secret_access_key"`
			} `json:"credentials"`
		}
		b, _ := os.ReadFile(path)
		c, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "context.json"))
		if json.Unmarshal(b, &k) != nil || json.Unmarshal(c, &ctx) != nil {
			t.Fatalf("%s: unreadable", path)
		}
		priv, err := keys.Get(ctx.Credentials.AccessKeyID, ctx.Credentials.Secret)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := priv.PublicKey.Bytes() // uncompressed: 0x04 || X || Y
		if err != nil {
			t.Fatal(err)
		}
		x, y := hex.EncodeToString(pub[1:33]), hex.EncodeToString(pub[33:65])
		if x != k.X || y != k.Y {
			t.Errorf("%s: derived public key (%s, %s), want (%s, %s)", path, x, y, k.X, k.Y)
		}
	}
	priv, _ := DeriveV4AKey("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	sig, err := SignV4A(priv, "AWS4-ECDSA-P256-SHA256\nx")
	if err != nil || !VerifyV4A(&priv.PublicKey, "AWS4-ECDSA-P256-SHA256\nx", sig) || VerifyV4A(&priv.PublicKey, "AWS4-ECDSA-P256-SHA256\ny", sig) {
		t.Fatalf("sign/verify round trip failed: %v", err)
	}
}

func TestRegionSet(t *testing.T) {
	set, err := ParseRegionSet("us-east-1, eu-*")
	if err != nil {
		t.Fatal(err)
	}
	for region, want := range map[string]bool{"us-east-1": true, "eu-west-1": true, "us-west-2": false} {
		if got := RegionSetCovers(set, region); got != want {
			t.Errorf("%v covers %s: %v, want %v", set, region, got, want)
		}
	}
	if !RegionSetCovers([]string{"*"}, "ap-south-1") {
		t.Error("* must cover every region")
	}
	if _, err := ParseRegionSet("us-east-1,,x"); err == nil {
		t.Error("an empty entry must be refused")
	}
}
