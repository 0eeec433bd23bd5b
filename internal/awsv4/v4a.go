package awsv4

// SigV4a (AWS4-ECDSA-P256-SHA256): SigV4 with a region set instead of one
// region, and an ECDSA P-256 signature by a key derived from the secret
// access key, so that one signature is valid in several regions (S3
// Multi-Region Access Points, CloudFront KeyValueStore, EventBridge global
// endpoints).
//
// Written out on crypto/ecdsa rather than taken from a library, because
// none that passes the aws-c-auth SigV4a vectors can be used here:
//   - aws-sdk-go-v2's implementation is internal/v4a, which Go does not
//     let another module import;
//   - smithy-go's aws-http-auth/sigv4a (v1.2.2) builds its own canonical
//     request: it does not normalize paths or collapse spaces in header
//     values (the *-normalized and header-value-trim vectors fail), reads the
//     query through url.Values (a raw '+' becomes a space), has no
//     X-Amz-Expires for the presigned form, and does not report the
//     canonical request it signed, so neither -v nor --explain could show it.
//
// The canonicalization is this package's (shared with SigV4); only the key
// derivation and the signature are new, and both follow aws-c-auth and the
// AWS SDKs: NIST SP 800-108 counter-mode KDF with HMAC-SHA256 over
// "AWS4A"+secret, the label AWS4-ECDSA-P256-SHA256 and the context
// access-key-id || counter, candidates tested as in FIPS 186-4 B.4.2.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"sync"
)

// SigV4a protocol constants.
const (
	AlgorithmV4A    = "AWS4-ECDSA-P256-SHA256"
	QueryRegionSet  = "X-Amz-Region-Set"
	HeaderRegionSet = "X-Amz-Region-Set"
)

// ScopeV4A is the SigV4a credential scope: date/service/aws4_request (no
// region: the region set travels in X-Amz-Region-Set).
func ScopeV4A(date, service string) string {
	return date + "/" + service + "/" + ScopeTerminator
}

// nMinus2 is n-2 of P-256, computed on first use: P-256's parameters are
// built when first asked for, and most gwcurl commands never sign SigV4a.
var nMinus2 = sync.OnceValue(func() *big.Int { return new(big.Int).Sub(elliptic.P256().Params().N, big.NewInt(2)) })

// DeriveV4AKey derives the SigV4a ECDSA P-256 key of an access key pair.
func DeriveV4AKey(accessKeyID, secret string) (*ecdsa.PrivateKey, error) {
	mac := hmac.New(sha256.New, []byte("AWS4A"+secret))
	for counter := 1; counter <= 0xff; counter++ {
		// K(i) = HMAC(key, [i]_32 || label || 0x00 || context || [L]_32),
		// one block (i = 1) gives the 256 bits needed.
		mac.Reset()
		var buf [4]byte
		binary.BigEndian.PutUint32(buf[:], 1)
		mac.Write(buf[:])
		mac.Write([]byte(AlgorithmV4A))
		mac.Write([]byte{0})
		mac.Write([]byte(accessKeyID))
		mac.Write([]byte{byte(counter)})
		binary.BigEndian.PutUint32(buf[:], 256)
		mac.Write(buf[:])
		c := new(big.Int).SetBytes(mac.Sum(nil))
		if c.Cmp(nMinus2()) >= 0 {
			continue // out of range: next counter
		}
		d := c.Add(c, big.NewInt(1)).FillBytes(make([]byte, 32))
		return ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	}
	return nil, errors.New("sigv4a: key derivation exhausted its counter")
}

// V4AKeys caches derived keys by access key and secret (derivation costs a
// few HMACs and a scalar multiplication; credentials that rotate, such as
// assumed-role chains, get a fresh key because the secret is part of the
// cache key). Safe for concurrent use.
type V4AKeys struct {
	mu   sync.Mutex
	keys map[[32]byte]*ecdsa.PrivateKey
}

// Get returns the key of an access key pair, deriving it once.
func (c *V4AKeys) Get(accessKeyID, secret string) (*ecdsa.PrivateKey, error) {
	id := sha256.Sum256([]byte(accessKeyID + "\x00" + secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[id]; ok {
		return k, nil
	}
	k, err := DeriveV4AKey(accessKeyID, secret)
	if err != nil {
		return nil, err
	}
	if c.keys == nil {
		c.keys = map[[32]byte]*ecdsa.PrivateKey{}
	}
	if len(c.keys) > 64 {
		clear(c.keys)
	}
	c.keys[id] = k
	return k, nil
}

// SignV4A signs a string to sign: the hex of an ASN.1 DER ECDSA signature
// over its SHA-256 (randomised, so two signatures of one string differ).
func SignV4A(key *ecdsa.PrivateKey, stringToSign string) (string, error) {
	sum := sha256.Sum256([]byte(stringToSign))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sig), nil
}

// VerifyV4A reports whether sigHex is a valid signature of stringToSign
// by pub.
func VerifyV4A(pub *ecdsa.PublicKey, stringToSign, sigHex string) bool {
	sig, err := hex.DecodeString(sigHex)
	if err != nil || strings.ToLower(sigHex) != sigHex {
		return false
	}
	sum := sha256.Sum256([]byte(stringToSign))
	return ecdsa.VerifyASN1(pub, sum[:], sig)
}

// ParseRegionSet splits an X-Amz-Region-Set value ("us-east-1,eu-west-1",
// "*", "us-*") into its entries, trimmed; empty entries are an error.
func ParseRegionSet(s string) ([]string, error) {
	var out []string
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			return nil, errors.New("empty region in the region set")
		}
		out = append(out, r)
	}
	return out, nil
}

// RegionSetCovers reports whether a region set admits region: an exact
// entry, "*", or a wildcard entry such as "us-*".
func RegionSetCovers(set []string, region string) bool {
	for _, r := range set {
		if r == "*" || r == region {
			return true
		}
		if p, ok := strings.CutSuffix(r, "*"); ok && strings.HasPrefix(region, p) {
			return true
		}
	}
	return false
}
