package stsverify

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// realSTSTimeout bounds one call to a real STS endpoint (aws-iam-authenticator uses 10 s).
const realSTSTimeout = 10 * time.Second

// maxSTSAnswer bounds what is read of an STS answer.
const maxSTSAnswer = 64 << 10

// newSTSClient returns the HTTP client for real STS calls: never follows a
// redirect (docs/auth/sts-identity.md, "How a back end verifies a proof"), bounded in time.
func newSTSClient(base *http.Client) *http.Client {
	c := &http.Client{Timeout: realSTSTimeout}
	if base != nil {
		cp := *base
		c = &cp
		if c.Timeout == 0 || c.Timeout > realSTSTimeout {
			c.Timeout = realSTSTimeout
		}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// callSTS sends a rebuilt GetCallerIdentity request to a real STS endpoint
// and parses the answer strictly (docs/auth/sts-identity.md, "How a back end verifies a proof").
func callSTS(ctx context.Context, client *http.Client, req *http.Request) (*CallerIdentity, *auth.Rejection) {
	req = req.WithContext(ctx)
	// Asking for JSON is not part of the signature; it avoids XML's
	// lenient parsing altogether (CVE-2020-16250).
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		// Not the client's fault: 503, so it retries rather than fixing
		// a credential that may be fine.
		return nil, unavailable("could not reach STS at %s: %v", req.URL.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSTSAnswer+1))
	if err != nil {
		return nil, auth.Reject(rejectcode.STSAnswerInvalid, "reading the answer of STS at %s failed: %v", req.URL.Host, err)
	}
	if len(b) > maxSTSAnswer {
		return nil, auth.Reject(rejectcode.STSAnswerInvalid, "the answer of STS at %s is over %d KiB", req.URL.Host, maxSTSAnswer>>10)
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, auth.Reject(rejectcode.STSAnswerInvalid, "STS at %s answered a redirect (HTTP %d); redirects are never followed", req.URL.Host, resp.StatusCode)
	case resp.StatusCode >= 500:
		return nil, unavailable("STS at %s is unavailable (HTTP %d)", req.URL.Host, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		if e := parseErrorAnswer(resp.Header.Get("Content-Type"), b); e != nil {
			return nil, auth.Reject(rejectcode.STSRefused, "STS refused the proof: %s: %s", e.Code, shorten(e.Message)).
				With("sts_code", e.Code).With("sts_message", shorten(e.Message))
		}
		return nil, auth.Reject(rejectcode.STSRefused, "STS refused the proof (HTTP %d)", resp.StatusCode)
	}
	id, err := ParseCallerIdentity(resp.Header.Get("Content-Type"), b)
	if err != nil {
		return nil, auth.Reject(rejectcode.STSAnswerInvalid, "the answer of STS at %s: %v", req.URL.Host, err)
	}
	return id, nil
}

// ParseCallerIdentity reads a GetCallerIdentity answer strictly: JSON
// (application/json, what the verifier asks for) or XML (text/xml) whose
// text starts with the XML declaration or the GetCallerIdentityResponse
// element and whose root is that element with exactly one
// GetCallerIdentityResult. Anything else is refused: Go's encoding/xml
// would otherwise find such an element inside another service's answer
// (CVE-2020-16250).
func ParseCallerIdentity(contentType string, b []byte) (*CallerIdentity, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("Content-Type %q is not a media type", shorten(contentType))
	}
	var arn, account, userID string
	switch mt {
	case "application/json":
		var r struct {
			Response *struct {
				Result *struct {
					Arn, Account, UserId *string
				} `json:"GetCallerIdentityResult"`
			} `json:"GetCallerIdentityResponse"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("not a JSON GetCallerIdentity answer: %v", shortErr(err))
		}
		if r.Response == nil || r.Response.Result == nil || r.Response.Result.Arn == nil || r.Response.Result.Account == nil || r.Response.Result.UserId == nil {
			return nil, fmt.Errorf("the JSON answer lacks GetCallerIdentityResponse.GetCallerIdentityResult.{Arn,Account,UserId}")
		}
		arn, account, userID = *r.Response.Result.Arn, *r.Response.Result.Account, *r.Response.Result.UserId
	case "text/xml":
		t := bytes.TrimSpace(b)
		if !bytes.HasPrefix(t, []byte("<?xml")) && !bytes.HasPrefix(t, []byte("<GetCallerIdentityResponse")) {
			return nil, fmt.Errorf("the XML answer does not start with <?xml or <GetCallerIdentityResponse")
		}
		var r struct {
			XMLName xml.Name `xml:"GetCallerIdentityResponse"`
			Results []struct {
				Arn     []string `xml:"Arn"`
				Account []string `xml:"Account"`
				UserID  []string `xml:"UserId"`
			} `xml:"GetCallerIdentityResult"`
		}
		if err := xml.Unmarshal(t, &r); err != nil {
			return nil, fmt.Errorf("not a GetCallerIdentityResponse document: %v", shortErr(err))
		}
		if r.XMLName.Space != "" && r.XMLName.Space != xmlNamespace {
			return nil, fmt.Errorf("unexpected XML namespace %q", shorten(r.XMLName.Space))
		}
		if len(r.Results) != 1 {
			return nil, fmt.Errorf("want exactly one GetCallerIdentityResult, got %d", len(r.Results))
		}
		res := r.Results[0]
		if len(res.Arn) != 1 || len(res.Account) != 1 || len(res.UserID) != 1 {
			return nil, fmt.Errorf("want exactly one Arn, Account and UserId")
		}
		arn, account, userID = res.Arn[0], res.Account[0], res.UserID[0]
	default:
		return nil, fmt.Errorf("unexpected Content-Type %q (want application/json or text/xml)", shorten(mt))
	}
	return &CallerIdentity{Arn: arn, Account: account, UserID: userID}, nil
}

// parseErrorAnswer reads an STS error answer (XML or JSON) for its code.
func parseErrorAnswer(contentType string, b []byte) *STSError {
	var r struct {
		Error struct {
			Code    string `xml:"Code" json:"Code"`
			Message string `xml:"Message" json:"Message"`
		} `xml:"Error" json:"Error"`
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	var err error
	switch mt {
	case "application/json":
		err = json.Unmarshal(b, &r)
	case "text/xml":
		var x struct {
			XMLName xml.Name `xml:"ErrorResponse"`
			Error   struct {
				Code    string `xml:"Code"`
				Message string `xml:"Message"`
			} `xml:"Error"`
		}
		err = xml.Unmarshal(bytes.TrimSpace(b), &x)
		r.Error.Code, r.Error.Message = x.Error.Code, x.Error.Message
	default:
		return nil
	}
	if err != nil || r.Error.Code == "" {
		return nil
	}
	return &STSError{Code: shorten(r.Error.Code), Message: r.Error.Message}
}

// unavailable is the answer when STS cannot vouch for a proof: 503 with
// Retry-After, since the proof may be good.
func unavailable(format string, args ...any) *auth.Rejection {
	rej := &auth.Rejection{Status: http.StatusServiceUnavailable, Code: rejectcode.IdPUnavailable, Reason: fmt.Sprintf(format, args...)}
	rej.Header = http.Header{"Retry-After": {"5"}}
	return rej
}
