package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gwcurl/gwcurl/internal/hostcheck"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// maxSTSResponse bounds what is read of an STS answer.
const maxSTSResponse = 64 << 10

// STSIdentityARN returns the ARN a sts-identity proof of a proves, for
// `gwcurl whoami`: it makes a proof exactly as requests carry it (same
// format, endpoint, region and server id) and sends that signed
// GetCallerIdentity request to the STS endpoint itself, through
// d.HTTPClient, without following redirects. The ARN is the one STS
// reports (an assumed-role ARN for role sessions; back ends compare the
// role ARN it canonicalizes to). A refusal of the credentials by STS is a
// *CredentialError.
func STSIdentityARN(ctx context.Context, a profiles.Auth, d Deps) (string, error) {
	s, err := newSTSIdentity(ctx, a, d)
	if err != nil {
		return "", err
	}
	if !hostcheck.SecureURL(s.endpoint) {
		return "", fmt.Errorf("sts-identity: refusing to send an identity proof over plain http to %s; use an https sts_endpoint (plain http is allowed only to loopback addresses)", s.endpoint.Host)
	}
	p, err := s.proof(ctx)
	if err != nil {
		return "", err
	}
	req := p.req.WithContext(ctx)
	if p.body != nil {
		body := p.body
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	// Accept is not signed, so asking for JSON changes nothing STS checks
	// (aws-iam-authenticator does the same).
	req.Header.Set("Accept", "application/json")

	client := http.DefaultClient
	if d.HTTPClient != nil {
		client = d.HTTPClient
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		return "", fmt.Errorf("sts-identity: calling STS at %s: %w", s.endpoint.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSTSResponse+1))
	if err != nil {
		return "", fmt.Errorf("sts-identity: reading the STS answer from %s: %w", s.endpoint.Host, err)
	}
	if len(b) > maxSTSResponse {
		return "", fmt.Errorf("sts-identity: the STS answer from %s is over %d KiB", s.endpoint.Host, maxSTSResponse>>10)
	}
	if resp.StatusCode != http.StatusOK {
		e := parseSTSError(resp.StatusCode, resp.Header.Get("Content-Type"), b)
		return "", stsError("sts-identity", e)
	}
	arn, err := parseCallerIdentityARN(resp.Header.Get("Content-Type"), b)
	if err != nil {
		return "", fmt.Errorf("sts-identity: STS at %s: %w", s.endpoint.Host, err)
	}
	return arn, nil
}

// stsAPIError is an error answer of STS (its Code is what stsError maps).
type stsAPIError struct {
	Status  int
	Code    string
	Message string
}

func (e *stsAPIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// ErrorCode is what stsError (and smithy's APIError) look at.
func (e *stsAPIError) ErrorCode() string { return e.Code }

// parseSTSError reads AWS's query-protocol error, as XML or JSON.
func parseSTSError(status int, contentType string, b []byte) *stsAPIError {
	e := &stsAPIError{Status: status}
	var body struct {
		Error struct {
			Code    string `xml:"Code" json:"Code"`
			Message string `xml:"Message" json:"Message"`
		} `xml:"Error" json:"Error"`
	}
	if isJSON(contentType) {
		if json.Unmarshal(b, &body) != nil {
			return e
		}
	} else if xml.Unmarshal(b, &body) != nil {
		return e
	}
	e.Code, e.Message = body.Error.Code, shortenText(body.Error.Message)
	return e
}

func isJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json"
}

// parseCallerIdentityARN reads a GetCallerIdentity answer: JSON (asked for)
// or AWS's XML, whose root element must be GetCallerIdentityResponse.
func parseCallerIdentityARN(contentType string, b []byte) (string, error) {
	var arn string
	if isJSON(contentType) {
		var r struct {
			GetCallerIdentityResponse *struct {
				GetCallerIdentityResult *struct {
					Arn string `json:"Arn"`
				} `json:"GetCallerIdentityResult"`
			} `json:"GetCallerIdentityResponse"`
		}
		if err := json.Unmarshal(b, &r); err != nil || r.GetCallerIdentityResponse == nil || r.GetCallerIdentityResponse.GetCallerIdentityResult == nil {
			return "", errors.New("the answer is not a GetCallerIdentity response")
		}
		arn = r.GetCallerIdentityResponse.GetCallerIdentityResult.Arn
	} else {
		var r struct {
			XMLName xml.Name `xml:"GetCallerIdentityResponse"`
			Result  []struct {
				Arn string `xml:"Arn"`
			} `xml:"GetCallerIdentityResult"`
		}
		if err := xml.Unmarshal(b, &r); err != nil || len(r.Result) != 1 {
			return "", errors.New("the answer is not a GetCallerIdentity response")
		}
		arn = r.Result[0].Arn
	}
	if !strings.HasPrefix(arn, "arn:") {
		return "", errors.New("the GetCallerIdentity response has no ARN")
	}
	return arn, nil
}

// shortenText bounds server-supplied text put into an error.
func shortenText(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
