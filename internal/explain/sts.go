package explain

// STS identity proofs (docs/auth/sts-identity.md): a
// signed sts:GetCallerIdentity request carried in a header, in three
// formats:
//
//   - url: the presigned GET URL itself (query authentication);
//   - k8s: "k8s-aws-v1." + base64url (no padding) of the presigned URL, as
//     aws-iam-authenticator's token;
//   - vault: base64 of Vault's aws iam login fields as JSON:
//     iam_http_request_method, iam_request_url (base64), iam_request_body
//     (base64), iam_request_headers (base64 of a JSON map of header lists).
//
// STS accepts a signed GetCallerIdentity for 15 minutes after its
// X-Amz-Date whatever X-Amz-Expires says (docs/auth/sts-identity.md,
// "Lifetime, traces, and what is never shown").

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
)

// stsProofLife is how long STS accepts a signed GetCallerIdentity.
const stsProofLife = 15 * time.Minute

const k8sPrefix = "k8s-aws-v1."

type identityProof struct {
	format         string // url, k8s, vault
	method         string
	reqURL         *url.URL
	action         string
	version        string
	auth           *sigv4Auth
	amzDate        time.Time
	expires        int // X-Amz-Expires, seconds (presigned)
	serverIDName   string
	serverIDValue  string
	serverIDSigned bool
	hasToken       bool
	// secrets, kept only so the scrubber can remove them
	signature, sessionToken, authorization string
}

// decodeB64 accepts standard and URL alphabets, with or without padding.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// looksLikeIdentityProof is a cheap test used to decide whether a header
// value is an identity proof (and so a secret).
func looksLikeIdentityProof(v string) bool {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, k8sPrefix):
		return true
	case strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://"):
		return strings.Contains(v, "X-Amz-Signature") || strings.Contains(v, "X-Amz-Credential")
	case strings.HasPrefix(v, "eyJ") && !strings.Contains(v, "."):
		b, err := decodeB64(v)
		return err == nil && strings.Contains(string(b), "iam_http_request_method")
	}
	return false
}

// decodeIdentity decodes an identity header value in any of the formats.
func decodeIdentity(v string) (*identityProof, error) {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, k8sPrefix):
		b, err := decodeB64(strings.TrimPrefix(v, k8sPrefix))
		if err != nil {
			return nil, fmt.Errorf("k8s-aws-v1 token: the rest is not base64url: %v", err)
		}
		p, err := identityFromURL(string(b))
		if err != nil {
			return nil, fmt.Errorf("k8s-aws-v1 token: %v", err)
		}
		p.format = "k8s"
		return p, nil
	case strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://"):
		p, err := identityFromURL(v)
		if err != nil {
			return nil, err
		}
		p.format = "url"
		return p, nil
	case strings.HasPrefix(v, "{"):
		return identityFromVault([]byte(v))
	}
	b, err := decodeB64(v)
	if err != nil || !strings.Contains(string(b), "iam_http_request_method") {
		return nil, errors.New("not an STS identity proof")
	}
	return identityFromVault(b)
}

func identityFromURL(raw string) (*identityProof, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, errors.New("not a presigned URL")
	}
	q := u.Query()
	a := parseSigV4Query(q)
	if a == nil {
		return nil, errors.New("the URL carries no X-Amz-Credential: not presigned")
	}
	p := &identityProof{method: "GET", reqURL: u, auth: a, amzDate: a.amzDate, action: q.Get("Action"), version: q.Get("Version")}
	p.signature = q.Get(awsv4.QuerySignature)
	p.sessionToken = q.Get(awsv4.QuerySecurityToken)
	p.hasToken = p.sessionToken != ""
	fmt.Sscan(q.Get(awsv4.QueryExpires), &p.expires)
	for _, h := range a.signedHeaders {
		if h == "x-k8s-aws-id" || strings.Contains(h, "server-id") {
			p.serverIDName, p.serverIDSigned = h, true
		}
	}
	return p, nil
}

// vaultLogin is Vault's aws auth iam login payload.
type vaultLogin struct {
	Method  string          `json:"iam_http_request_method"`
	URL     string          `json:"iam_request_url"`
	Body    string          `json:"iam_request_body"`
	Headers json.RawMessage `json:"iam_request_headers"`
	Role    string          `json:"role"`
}

func identityFromVault(b []byte) (*identityProof, error) {
	var vl vaultLogin
	if err := json.Unmarshal(b, &vl); err != nil || vl.Method == "" {
		return nil, errors.New("vault format: want JSON with iam_http_request_method")
	}
	p := &identityProof{format: "vault", method: vl.Method}
	if ub, err := decodeB64(vl.URL); err == nil {
		p.reqURL, _ = url.Parse(string(ub))
	} else {
		p.reqURL, _ = url.Parse(vl.URL)
	}
	if bb, err := decodeB64(vl.Body); err == nil {
		if form, err := url.ParseQuery(string(bb)); err == nil {
			p.action, p.version = form.Get("Action"), form.Get("Version")
		}
	}
	// Headers: base64 of a JSON object (Vault), or the object itself.
	raw := []byte(vl.Headers)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if hb, err := decodeB64(s); err == nil {
			raw = hb
		}
	}
	h := http.Header{}
	var multi map[string][]string
	var single map[string]string
	switch {
	case json.Unmarshal(raw, &multi) == nil:
		for k, vs := range multi {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
	case json.Unmarshal(raw, &single) == nil:
		for k, v := range single {
			h.Add(k, v)
		}
	}
	p.authorization = h.Get("Authorization")
	p.auth = parseSigV4Header(p.authorization)
	if a, _ := awsv4.ParseAuthorization(p.authorization); a.Signature != "" {
		p.signature = a.Signature
	}
	p.amzDate, _ = time.Parse(awsv4TimeFormat, h.Get("X-Amz-Date"))
	if p.auth != nil {
		p.auth.amzDate = p.amzDate
	}
	p.sessionToken = h.Get("X-Amz-Security-Token")
	p.hasToken = p.sessionToken != ""
	for k, vs := range h {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "server-id") || lk == "x-k8s-aws-id" {
			p.serverIDName = lk
			if len(vs) > 0 {
				p.serverIDValue = vs[0]
			}
			if p.auth != nil {
				for _, sh := range p.auth.signedHeaders {
					if sh == lk {
						p.serverIDSigned = true
					}
				}
			}
		}
	}
	if p.auth == nil {
		return p, errors.New("vault format: iam_request_headers has no SigV4 Authorization header")
	}
	return p, nil
}

// expiresAt is when STS stops accepting the proof.
func (p *identityProof) expiresAt() time.Time {
	if p.amzDate.IsZero() {
		return time.Time{}
	}
	return p.amzDate.Add(stsProofLife)
}

func keyType(ak string) string {
	switch {
	case strings.HasPrefix(ak, "AKIA"):
		return "long-term IAM user key"
	case strings.HasPrefix(ak, "ASIA"):
		return "temporary STS credentials"
	}
	return "unrecognised key id prefix"
}

// identityHeader finds the identity proof gwcurl sent: the profile's header
// (X-Fluid-Identity by default) or any header holding one.
func (d *diag) identityHeader() (string, *identityProof) {
	if v := d.s.Header.Get("X-Fluid-Identity"); v != "" {
		p, _ := decodeIdentity(v)
		return "X-Fluid-Identity", p
	}
	for k, vs := range d.s.Header {
		for _, v := range vs {
			if looksLikeIdentityProof(v) {
				p, _ := decodeIdentity(v)
				return k, p
			}
		}
	}
	return "", nil
}

// stsIdentity adds what the identity proof gwcurl sent says.
func (d *diag) stsIdentity() {
	if d.s.AuthKind != "sts-identity" || (d.r.Status != 401 && d.r.Status != 403) {
		return
	}
	name, p := d.identityHeader()
	if name == "" {
		d.add("no-identity", scoreLikely, Finding{
			Cause: "no STS identity header was sent",
			Fix:   "check --identity-header (default X-Fluid-Identity) matches the gateway's header, and that AWS credentials resolve (`gwcurl whoami -p PROFILE`)",
		})
		return
	}
	if p == nil {
		d.add("identity", scoreLikely, Finding{
			Cause: "the " + name + " header is not a readable STS identity proof",
			Fix:   "send a proof in the format the gateway expects: --identity-format url|vault|k8s",
		})
		return
	}
	now := d.localTime()
	if exp := p.expiresAt(); !exp.IsZero() && !now.IsZero() && !now.Before(exp) {
		d.timeProblem = "sigv4"
		d.add("identity-expired", scoreDerived, Finding{
			Cause: fmt.Sprintf("identity proof expired %s ago: signed at %s, STS accepts it for 15 minutes", fmtDur(now.Sub(exp)), fmtTime(p.amzDate)),
			Fix:   "do not reuse a copied identity header: let gwcurl sign one per request",
		})
	}
	if p.action != "" && p.action != "GetCallerIdentity" {
		d.add("identity", scoreLikely, Finding{
			Cause: "the identity proof signs action " + p.action + ", not GetCallerIdentity",
			Fix:   "sign sts:GetCallerIdentity (gwcurl's sts-identity kind does)",
		})
	}
}
