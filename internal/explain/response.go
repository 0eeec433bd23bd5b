package explain

// Parsing of the error answers gwcurl meets. Each format is documented where
// it is recognised; recorded examples are in testdata/ with their sources.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"github.com/gwcurl/gwcurl/internal/lazyre"
	"html"
	"net/http"
	"strings"
	"time"
)

// response is a parsed answer.
type response struct {
	status int
	header http.Header

	gw   *gatewayRejection // the mock gateway's JSON refusal
	aws  *awsError         // an AWS error (XML or JSON)
	goog *googleError      // Google's JSON error envelope
	oa   *oauthError       // an RFC 6749/6750 JSON error
	page *htmlPage         // an HTML error page
	text string            // a short plain-text body
	wwwa []challenge       // WWW-Authenticate
}

// gatewayRejection is the mock gateway's answer to a refusal (docs/gateway.md,
// "Rejection codes"): {"error": StatusText, "code": "...", "reason": "...",
// ...details}; the details each code carries are listed there.
type gatewayRejection struct {
	Error   string
	Code    string // a rejectcode.Code; empty from gateways older than the codes
	Reason  string
	Details map[string]any
}

func (g *gatewayRejection) detail(k string) string {
	s, _ := g.Details[k].(string)
	return s
}

// awsError is an AWS error in any of its wire forms:
//
//   - S3 REST XML: <Error><Code>…</Code><Message>…</Message>…</Error>, with
//     extra elements per code (CanonicalRequest, StringToSign, RequestTime,
//     ServerTime, Region, AWSAccessKeyId, …).
//   - Query-protocol XML (STS, IAM): <ErrorResponse><Error><Type>…</Type>
//     <Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId>
//     </ErrorResponse>.
//   - JSON (API Gateway, Lambda function URLs, JSON-protocol services):
//     {"message": "…"} or {"Message": "…"}, with the error type in the
//     x-amzn-ErrorType header or a "__type"/"code" field.
type awsError struct {
	Format  string // s3-xml, query-xml, json
	Code    string
	Message string
	Fields  map[string]string // every other element (XML) or string field (JSON)
}

// googleError is Google's API error envelope:
// {"error": {"code": 403, "message": "…", "status": "PERMISSION_DENIED"}}.
type googleError struct {
	Code    int
	Message string
	Status  string
}

// oauthError is {"error": "invalid_token", "error_description": "…"}.
type oauthError struct {
	Code, Description string
}

// htmlPage is the readable part of an HTML error page.
type htmlPage struct {
	Title string
	Text  string // visible text, whitespace collapsed
	Raw   string // lower-cased source, for markers
}

// challenge is one WWW-Authenticate challenge (RFC 9110 §11.6.1).
type challenge struct {
	Scheme string
	Params map[string]string // lower-case names
}

func parseResponse(r Received) *response {
	p := &response{status: r.Status, header: r.Header}
	p.wwwa = parseChallenges(r.Header.Values("Www-Authenticate"))
	body := bytes.TrimSpace(r.Body)
	if len(body) == 0 {
		return p
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	switch {
	case body[0] == '{':
		p.parseJSON(body, r.Header)
	case body[0] == '<':
		if strings.Contains(ct, "html") || looksHTML(body) {
			p.page = parseHTML(body)
		} else if e := parseAWSXML(body); e != nil {
			p.aws = e
		} else {
			p.page = parseHTML(body)
		}
	default:
		if len(body) < 512 {
			p.text = string(body)
		}
	}
	return p
}

func looksHTML(b []byte) bool {
	l := bytes.ToLower(b[:min(len(b), 512)])
	return bytes.Contains(l, []byte("<html")) || bytes.Contains(l, []byte("<!doctype html")) || bytes.Contains(l, []byte("<head")) || bytes.Contains(l, []byte("<body"))
}

func (p *response) parseJSON(body []byte, h http.Header) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	// Google's envelope: "error" is an object.
	if e, ok := m["error"].(map[string]any); ok {
		g := &googleError{}
		if n, ok := e["code"].(json.Number); ok {
			c, _ := n.Int64()
			g.Code = int(c)
		}
		g.Message, _ = e["message"].(string)
		g.Status, _ = e["status"].(string)
		p.goog = g
		return
	}
	if errStr := str("error"); errStr != "" {
		if isStatusText(errStr) {
			g := &gatewayRejection{Error: errStr, Code: str("code"), Reason: str("reason"), Details: map[string]any{}}
			for k, v := range m {
				if k != "error" && k != "reason" && k != "code" {
					g.Details[k] = v
				}
			}
			p.gw = g
			return
		}
		p.oa = &oauthError{Code: errStr, Description: str("error_description")}
		return
	}
	msg := str("message")
	if msg == "" {
		msg = str("Message")
	}
	code := h.Get("X-Amzn-Errortype")
	if code == "" {
		code = str("__type")
	}
	if code == "" {
		code = str("code")
	}
	if code == "" {
		code = str("Code")
	}
	// "AccessDeniedException:http://internal.amazon.com/coral/…" and
	// "com.amazon.coral.service#ExpiredTokenException" both name the type.
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if msg == "" && code == "" {
		return
	}
	e := &awsError{Format: "json", Code: code, Message: msg, Fields: map[string]string{}}
	for k, v := range m {
		if s, ok := v.(string); ok && k != "message" && k != "Message" {
			e.Fields[k] = s
		}
	}
	p.aws = e
}

func isStatusText(s string) bool {
	for c := 100; c < 600; c++ {
		if t := http.StatusText(c); t != "" && t == s {
			return true
		}
	}
	return false
}

// xmlNode is a generic XML element, enough for AWS's flat error documents.
type xmlNode struct {
	XMLName xml.Name
	Content string    `xml:",chardata"`
	Nodes   []xmlNode `xml:",any"`
}

func parseAWSXML(body []byte) *awsError {
	var root xmlNode
	if err := xml.Unmarshal(body, &root); err != nil {
		return nil
	}
	e := &awsError{Fields: map[string]string{}}
	var errNode *xmlNode
	switch root.XMLName.Local {
	case "Error":
		e.Format = "s3-xml"
		errNode = &root
	case "ErrorResponse", "Response":
		e.Format = "query-xml"
		for i := range root.Nodes {
			n := &root.Nodes[i]
			switch n.XMLName.Local {
			case "Error":
				errNode = n
			case "Errors":
				for j := range n.Nodes {
					if n.Nodes[j].XMLName.Local == "Error" {
						errNode = &n.Nodes[j]
						break
					}
				}
			default:
				e.Fields[n.XMLName.Local] = n.Content
			}
		}
	default:
		return nil
	}
	if errNode == nil {
		return nil
	}
	for _, n := range errNode.Nodes {
		switch n.XMLName.Local {
		case "Code":
			e.Code = strings.TrimSpace(n.Content)
		case "Message":
			e.Message = strings.TrimSpace(n.Content)
		default:
			e.Fields[n.XMLName.Local] = n.Content
		}
	}
	if e.Code == "" && e.Message == "" {
		return nil
	}
	return e
}

var (
	reTitle = lazyre.New(`(?is)<title[^>]*>(.*?)</title>`)
	reStrip = lazyre.New(`(?is)<script.*?</script>|<style.*?</style>|<[^>]+>`)
	reSpace = lazyre.New(`\s+`)
)

func parseHTML(body []byte) *htmlPage {
	src := string(body)
	p := &htmlPage{Raw: strings.ToLower(src)}
	if m := reTitle.FindStringSubmatch(src); m != nil {
		p.Title = strings.TrimSpace(reSpace.ReplaceAllString(html.UnescapeString(m[1]), " "))
	}
	text := reTitle.ReplaceAllString(src, " ")
	text = reStrip.ReplaceAllString(text, " ")
	p.Text = strings.TrimSpace(reSpace.ReplaceAllString(html.UnescapeString(text), " "))
	return p
}

// parseChallenges parses WWW-Authenticate values into challenges. It is
// written out because net/http has no parser for them; it handles the
// forms servers send (Bearer realm="x", error="invalid_token",
// error_description="…"), several challenges per line included.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		s := strings.TrimSpace(v)
		for s != "" {
			// scheme
			i := strings.IndexAny(s, " ,")
			scheme := s
			if i >= 0 {
				scheme, s = s[:i], strings.TrimLeft(s[i:], " ")
			} else {
				s = ""
			}
			if scheme == "" {
				s = strings.TrimLeft(s, ", ")
				continue
			}
			c := challenge{Scheme: scheme, Params: map[string]string{}}
			// params: name=value or name="quoted", comma-separated, until a
			// token that is not followed by '=' (the next scheme).
			for s != "" {
				s = strings.TrimLeft(s, ", ")
				eq := strings.IndexByte(s, '=')
				sp := strings.IndexAny(s, " ,")
				if eq < 0 || (sp >= 0 && sp < eq) {
					break // next challenge (or a token68 we do not need)
				}
				name := strings.ToLower(strings.TrimSpace(s[:eq]))
				s = strings.TrimLeft(s[eq+1:], " ")
				var val string
				if strings.HasPrefix(s, `"`) {
					var b strings.Builder
					j := 1
					for ; j < len(s); j++ {
						if s[j] == '\\' && j+1 < len(s) {
							j++
							b.WriteByte(s[j])
							continue
						}
						if s[j] == '"' {
							break
						}
						b.WriteByte(s[j])
					}
					val = b.String()
					if j < len(s) {
						j++
					}
					s = s[j:]
				} else {
					end := strings.IndexByte(s, ',')
					if end < 0 {
						end = len(s)
					}
					val, s = strings.TrimSpace(s[:end]), s[end:]
				}
				c.Params[name] = val
			}
			out = append(out, c)
		}
	}
	return out
}

// bearerChallenge returns the first Bearer challenge, if any.
func (p *response) bearerChallenge() (challenge, bool) {
	for _, c := range p.wwwa {
		if strings.EqualFold(c.Scheme, "Bearer") {
			return c, true
		}
	}
	return challenge{}, false
}

// message is the server's one-line explanation, whatever the format.
func (p *response) message() string {
	switch {
	case p.gw != nil && p.gw.Reason != "":
		return p.gw.Reason
	case p.aws != nil:
		if p.aws.Code != "" && p.aws.Message != "" {
			return p.aws.Code + ": " + firstLine(p.aws.Message)
		}
		return firstLine(p.aws.Message + p.aws.Code)
	case p.goog != nil:
		return p.goog.Status + ": " + p.goog.Message
	case p.oa != nil:
		if p.oa.Description != "" {
			return p.oa.Code + ": " + p.oa.Description
		}
		return p.oa.Code
	case p.page != nil && p.page.Title != "":
		return p.page.Title
	}
	return strings.TrimSpace(p.text)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// serverTime is the server's clock, from the most precise source the answer
// has: a time the body states (the mock gateway's gateway_time, S3's
// ServerTime, the "now" inside AWS's "Signature expired" message), else the
// Date header.
func (d *diag) serverTime() (time.Time, string) {
	p := d.resp
	if p.gw != nil {
		if t, err := time.Parse(time.RFC3339, p.gw.detail("gateway_time")); err == nil {
			return t, "the gateway's gateway_time"
		}
		if t, err := time.Parse(time.RFC3339, p.gw.detail("now")); err == nil {
			return t, "the gateway's reason"
		}
		if !d.serverNow.IsZero() {
			return d.serverNow, "the gateway's reason"
		}
		for _, re := range []*lazyre.Regexp{reSigExpired, reSigNotYet} {
			if m := re.FindStringSubmatch(p.gw.detail("sts_message")); m != nil {
				if t, err := time.Parse(awsv4TimeFormat, m[3]); err == nil {
					return t, "the server's message"
				}
			}
		}
	}
	if p.aws != nil {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(p.aws.Fields["ServerTime"])); err == nil {
			return t, "S3's ServerTime"
		}
		if m := reSigExpired.FindStringSubmatch(p.aws.Message); m != nil {
			if t, err := time.Parse(awsv4TimeFormat, m[3]); err == nil {
				return t, "the server's message"
			}
		}
		if m := reSigNotYet.FindStringSubmatch(p.aws.Message); m != nil {
			if t, err := time.Parse(awsv4TimeFormat, m[3]); err == nil {
				return t, "the server's message"
			}
		}
	}
	if ds := p.header.Get("Date"); ds != "" {
		if t, err := http.ParseTime(ds); err == nil {
			return t, "the Date header"
		}
	}
	return time.Time{}, ""
}

const awsv4TimeFormat = "20060102T150405Z"

var (
	// API Gateway / STS / Lambda: "Signature expired: 20150830T123600Z is now
	// earlier than 20150830T124600Z (20150830T125100Z - 5 min.)".
	reSigExpired = lazyre.New(`Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) - (\d+) min\.\)`)
	// "Signature not yet current: 20150830T130600Z is still later than
	// 20150830T125600Z (20150830T125100Z + 5 min.)".
	reSigNotYet = lazyre.New(`Signature not yet current: (\d{8}T\d{6}Z) is still later than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) \+ (\d+) min\.\)`)
)
