package stsverify

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// MockPrefix is where the gateway serves its mock STS.
const MockPrefix = "/_mock/sts/"

// STS protocol constants.
const (
	ActionGetCallerIdentity = "GetCallerIdentity"
	APIVersion              = "2011-06-15"
	xmlNamespace            = "https://sts.amazonaws.com/doc/2011-06-15/"
	// ProofLifetime is how long STS honours a signed GetCallerIdentity
	// after its X-Amz-Date, whatever X-Amz-Expires says (docs/auth/sts-identity.md, "Lifetime, traces, and what is never shown"); it is
	// also STS's clock tolerance for header-signed requests.
	ProofLifetime = 15 * time.Minute
	// maxMockBody bounds a request body the mock STS reads.
	maxMockBody = 64 << 10
)

// CallerIdentity is what GetCallerIdentity answers.
type CallerIdentity struct {
	Arn, Account, UserID string
	// AccessKeyID is the key that signed; only the mock (local
	// verification) knows it.
	AccessKeyID string
}

// STSError is an STS error answer, in AWS's codes.
type STSError struct {
	Status  int
	Code    string // SignatureDoesNotMatch, InvalidClientTokenId, InvalidAction, ...
	Message string
}

func (e *STSError) Error() string { return e.Code + ": " + e.Message }

// Mocks is the auth.MockFactory of the gateway's mock STS, served at
// MockPrefix and verifying against the gateway's aws_keys table.
func Mocks(env *auth.Env) ([]auth.Mock, error) {
	return []auth.Mock{{Prefix: MockPrefix, Handler: &MockSTS{Keys: env.AWSKeys, Now: env.Now}}}, nil
}

// MockSTS is an http.Handler emulating sts:GetCallerIdentity, as a POST
// form (what the SDKs and the AWS CLI send) or a pre-signed GET. It
// verifies the SigV4 signature against Keys and answers AWS's XML, or
// JSON when the request's Accept asks for application/json. A key with a
// session_token is temporary: its ARN (an assumed-role ARN for a role
// session) is reported as such. Every other action is refused with AWS's
// InvalidAction error. It must be mounted at MockPrefix: the path is part
// of what clients sign.
type MockSTS struct {
	Keys []auth.AWSKey
	Now  func() time.Time // nil: time.Now
}

// ServeHTTP implements http.Handler.
func (m *MockSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	asJSON := acceptsJSON(r.Header.Values("Accept"))
	reqID := requestID()
	var id *CallerIdentity
	var serr *STSError
	switch {
	case r.URL.Path != MockPrefix:
		serr = &STSError{Status: http.StatusNotFound, Code: "NotFound", Message: "the mock STS answers at " + MockPrefix + " only"}
	case r.ContentLength > maxMockBody:
		serr = &STSError{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Message: "request body too large"}
	default:
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxMockBody)
		}
		id, serr = GetCallerIdentity(r, m.Keys, now())
	}
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Header().Set("Cache-Control", "no-store")
	if serr != nil {
		writeError(w, serr, reqID, asJSON)
		return
	}
	writeResult(w, id, reqID, asJSON)
}

// GetCallerIdentity answers one GetCallerIdentity request as STS would,
// verifying its SigV4 signature (service sts, any region) against keys at
// time now. r is a server request or one built by hand (see
// sigv4verify.VerifyRequest); its body is read. Header-signed requests
// must be within 15 minutes of now; pre-signed ones are honoured for 15
// minutes after X-Amz-Date whatever their X-Amz-Expires (docs/auth/sts-identity.md, "Lifetime, traces, and what is never shown").
func GetCallerIdentity(r *http.Request, keys []auth.AWSKey, now time.Time) (*CallerIdentity, *STSError) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return nil, &STSError{Status: http.StatusMethodNotAllowed, Code: "InvalidAction", Message: "STS answers GET and POST only, not " + r.Method}
	}
	// Read the body first (bounded), so both the signature check and the
	// form parsing see the same bytes.
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxMockBody+1))
		r.Body.Close()
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe) || len(b) > maxMockBody:
			return nil, &STSError{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Message: "request body too large"}
		case err != nil:
			return nil, &STSError{Status: http.StatusBadRequest, Code: "MalformedInput", Message: "reading the request body failed"}
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	_, rawQuery := rawTarget(r)
	query, err := awsv4.ParseQuery(rawQuery)
	if err != nil {
		return nil, &STSError{Status: http.StatusBadRequest, Code: "MalformedQueryString", Message: err.Error()}
	}

	opts := sigv4verify.Options{Service: "sts", MaxSkew: ProofLifetime, Now: func() time.Time { return now }}
	if presigned(query) {
		// STS ignores X-Amz-Expires for GetCallerIdentity: check the
		// 15 minutes here, then let the signature check run at the
		// signing time so that X-Amz-Expires cannot shorten it.
		if d, ok := firstParam(query, awsv4.QueryDate); ok {
			t, err := time.Parse(awsv4.TimeFormat, d)
			if err == nil {
				if serr := checkWindow(t, now); serr != nil {
					return nil, serr
				}
				opts.Now = func() time.Time { return t }
			}
		}
	}
	res, err := sigv4verify.VerifyRequest(r, keys, opts)
	if err != nil {
		return nil, signatureError(err)
	}

	// The operation: Action and Version, from the query and the form body.
	params := query
	if r.Method == http.MethodPost && len(body) > 0 {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			return nil, &STSError{Status: http.StatusBadRequest, Code: "InvalidAction", Message: "a POST body must be application/x-www-form-urlencoded"}
		}
		form, err := awsv4.ParseQuery(string(body))
		if err != nil {
			return nil, &STSError{Status: http.StatusBadRequest, Code: "MalformedInput", Message: "the form body: " + err.Error()}
		}
		params = append(append([]awsv4.QueryParam(nil), query...), form...)
	}
	var action, version []string
	for _, p := range params {
		switch {
		case strings.EqualFold(p.Key, "Action"):
			action = append(action, p.Value)
		case strings.EqualFold(p.Key, "Version"):
			version = append(version, p.Value)
		}
	}
	switch {
	case len(action) == 0:
		return nil, &STSError{Status: http.StatusBadRequest, Code: "MissingAction", Message: "Missing Action"}
	case len(action) > 1 || len(version) > 1:
		return nil, &STSError{Status: http.StatusBadRequest, Code: "InvalidParameterValue", Message: "Action and Version must appear once"}
	case len(version) == 0:
		return nil, &STSError{Status: http.StatusBadRequest, Code: "MissingParameter", Message: "The request must contain the parameter Version"}
	case action[0] != ActionGetCallerIdentity:
		return nil, &STSError{Status: http.StatusBadRequest, Code: "InvalidAction",
			Message: fmt.Sprintf("Could not find operation %s for version %s (the mock STS implements GetCallerIdentity only)", shorten(action[0]), shorten(version[0]))}
	case version[0] != APIVersion:
		return nil, &STSError{Status: http.StatusBadRequest, Code: "InvalidAction",
			Message: fmt.Sprintf("Could not find operation %s for version %s", action[0], shorten(version[0]))}
	}

	arn := res.Key.ARN
	if arn == "" {
		return nil, &STSError{Status: http.StatusForbidden, Code: "AccessDenied", Message: "the key " + res.Key.AccessKeyID + " has no ARN in the gateway's aws_keys table"}
	}
	account, userID := sigv4verify.CallerIDs(arn)
	return &CallerIdentity{Arn: arn, Account: account, UserID: userID, AccessKeyID: res.Key.AccessKeyID}, nil
}

// checkWindow applies STS's 15 minutes around a proof's signing time.
func checkWindow(signed, now time.Time) *STSError {
	switch {
	case now.After(signed.Add(ProofLifetime)):
		return &STSError{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch",
			Message: fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
				signed.UTC().Format(awsv4.TimeFormat), now.Add(-ProofLifetime).UTC().Format(awsv4.TimeFormat), now.UTC().Format(awsv4.TimeFormat))}
	case signed.After(now.Add(ProofLifetime)):
		return &STSError{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch",
			Message: fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
				signed.UTC().Format(awsv4.TimeFormat), now.Add(ProofLifetime).UTC().Format(awsv4.TimeFormat), now.UTC().Format(awsv4.TimeFormat))}
	}
	return nil
}

// signatureError maps a refusal of sigv4verify to the error STS answers.
func signatureError(err error) *STSError {
	var rej *auth.Rejection
	if !errors.As(err, &rej) {
		return &STSError{Status: http.StatusBadRequest, Code: "IncompleteSignature", Message: err.Error()}
	}
	reason := rej.Reason
	switch {
	case rej.Status == http.StatusUnauthorized || rej.Code == rejectcode.MissingSigV4:
		return &STSError{Status: http.StatusForbidden, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token"}
	case rej.Code == rejectcode.UnknownAccessKey || rej.Code == rejectcode.SessionTokenMismatch:
		return &STSError{Status: http.StatusForbidden, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid. (mock STS: " + reason + ")"}
	case rej.Code == rejectcode.SignatureMismatch:
		return &STSError{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch",
			Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	case rej.Code == rejectcode.PresignExpired || rej.Code == rejectcode.ClockSkew:
		return &STSError{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch", Message: "Signature expired (mock STS: " + reason + ")"}
	case rej.Code == rejectcode.RegionMismatch || rej.Code == rejectcode.ServiceMismatch || rej.Code == rejectcode.ScopeDateMismatch:
		return &STSError{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch", Message: "Credential should be scoped to correct service: 'sts'. (mock STS: " + reason + ")"}
	}
	return &STSError{Status: http.StatusBadRequest, Code: "IncompleteSignature", Message: reason}
}

// presigned reports whether a query carries query authentication.
func presigned(q []awsv4.QueryParam) bool {
	for _, p := range q {
		if strings.EqualFold(p.Key, awsv4.QuerySignature) || strings.EqualFold(p.Key, awsv4.QueryCredential) {
			return true
		}
	}
	return false
}

func firstParam(q []awsv4.QueryParam, name string) (string, bool) {
	for _, p := range q {
		if p.Key == name {
			return p.Value, true
		}
	}
	return "", false
}

// rawTarget returns the path and query exactly as received (RequestURI),
// or from the URL for a request built by hand.
func rawTarget(r *http.Request) (path, query string) {
	if r.RequestURI == "" {
		return r.URL.EscapedPath(), r.URL.RawQuery
	}
	path, query, _ = strings.Cut(r.RequestURI, "?")
	return path, query
}

// acceptsJSON reports whether an Accept header asks for application/json.
func acceptsJSON(accept []string) bool {
	for _, line := range accept {
		for part := range strings.SplitSeq(line, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "application/json" {
				return true
			}
		}
	}
	return false
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// The answers, in AWS's query-protocol shapes.

type xmlResult struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type xmlError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeResult(w http.ResponseWriter, id *CallerIdentity, reqID string, asJSON bool) {
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{ //nolint:errcheck // the client went away
			"GetCallerIdentityResponse": map[string]any{
				"GetCallerIdentityResult": map[string]string{"Account": id.Account, "Arn": id.Arn, "UserId": id.UserID},
				"ResponseMetadata":        map[string]string{"RequestId": reqID},
			},
		})
		return
	}
	var x xmlResult
	x.Xmlns = xmlNamespace
	x.Result.Arn, x.Result.UserID, x.Result.Account = id.Arn, id.UserID, id.Account
	x.RequestID = reqID
	writeXML(w, http.StatusOK, x)
}

func writeError(w http.ResponseWriter, e *STSError, reqID string, asJSON bool) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.Status)
		json.NewEncoder(w).Encode(map[string]any{ //nolint:errcheck // the client went away
			"Error":     map[string]string{"Type": typ, "Code": e.Code, "Message": e.Message},
			"RequestId": reqID,
		})
		return
	}
	var x xmlError
	x.Xmlns = xmlNamespace
	x.Error.Type, x.Error.Code, x.Error.Message = typ, e.Code, e.Message
	x.RequestID = reqID
	writeXML(w, e.Status, x)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encoding the answer failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write(b)            //nolint:errcheck // the client went away
	w.Write([]byte("\n")) //nolint:errcheck
}
