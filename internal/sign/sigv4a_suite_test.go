package sign

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/awsv4/suite"
)

// TestSigV4aSuite signs every aws-c-auth SigV4a vector in header and
// presigned query form: the canonical request and the string to sign must
// equal the vector's exactly, gwcurl's signature and the vector's recorded
// one must verify under the vector's public key, and the signed request
// must carry what the vector's does.
func TestSigV4aSuite(t *testing.T) {
	cases, err := suite.LoadV4A(suite.Locate(t))
	if err != nil {
		t.Fatal(err)
	}
	var keys awsv4.V4AKeys
	ran := 0
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if c.OmitSessionToken {
				t.Skip(v4ClientExclusions["aws-c-auth/"+c.Name])
			}
			ran++
			req := v4SuiteRequest(t, c)
			res, err := signV4A(&keys, v4SuiteCreds(c), req, v4SuiteParams(t, c, req, false))
			if err != nil {
				t.Fatal(err)
			}
			v4Check(t, "canonical request", res.CanonicalRequest, c.Header.CanonicalRequest)
			v4Check(t, "string to sign", res.StringToSign, c.Header.StringToSign)
			if !awsv4.VerifyV4A(c.PublicKey, res.StringToSign, res.Signature) {
				t.Error("gwcurl's signature does not verify under the vector's public key")
			}
			if !awsv4.VerifyV4A(c.PublicKey, c.Header.StringToSign, c.Header.Signature) {
				t.Error("the vector's signature does not verify under its public key")
			}
			wantAuth, _, _ := strings.Cut(c.Header.Authorization, "Signature=")
			gotAuth, _, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
			v4Check(t, "Authorization (before the signature)", gotAuth, wantAuth)
			v4Check(t, "X-Amz-Region-Set", req.Header.Get("X-Amz-Region-Set"), c.Region)

			req = v4SuiteRequest(t, c)
			res, err = signV4A(&keys, v4SuiteCreds(c), req, v4SuiteParams(t, c, req, true))
			if err != nil {
				t.Fatal(err)
			}
			v4Check(t, "query canonical request", res.CanonicalRequest, c.Query.CanonicalRequest)
			v4Check(t, "query string to sign", res.StringToSign, c.Query.StringToSign)
			if !awsv4.VerifyV4A(c.PublicKey, res.StringToSign, res.Signature) {
				t.Error("gwcurl's presigned signature does not verify under the vector's public key")
			}
			got, err := url.Parse(res.URL)
			if err != nil {
				t.Fatal(err)
			}
			v4Check(t, "signed URL query (without the signature)", v4SortedQuery(t, dropSig(got.RawQuery)), v4SortedQuery(t, dropSig(c.Query.Signed.RawQuery())))
		})
	}
	if ran < 30 {
		t.Errorf("only %d SigV4a cases ran", ran)
	}
}

func dropSig(raw string) string {
	var kept []string
	for _, p := range strings.Split(raw, "&") {
		if !strings.HasPrefix(p, "X-Amz-Signature=") {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}
