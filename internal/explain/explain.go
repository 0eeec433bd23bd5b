// Package explain names the likely cause of a refused request (docs/on-call.md):
// `gwcurl --explain` and `gwcurl explain`.
//
// [Diagnose] combines what gwcurl sent (the canonical request and credential
// scope it signed, the token it carried, when it signed) with what came back
// (the status, the Date header, the body: the mock gateway's JSON reasons,
// S3's XML errors, API Gateway's and Lambda function URLs' JSON messages,
// Cloud Run's and Cloudflare Access's pages, WWW-Authenticate and CORS
// headers) and returns findings, most likely first. [Render] prints them in a
// few lines. [Decode] explains a pasted token, identity header or error body
// offline.
//
// # Rules
//
//   - Nothing here prints a secret. Every string that leaves the package
//     (finding lines, report lines and fields) passes through one scrubber
//     that removes the secrets gwcurl sent (taken from [Sent]: the
//     Authorization value, signatures, session tokens, bearer and app
//     tokens, CF client secrets, cookies, identity headers) and anything that
//     looks like one (JWTs, Signature=…, X-Amz-Security-Token values), using
//     internal/redact's short-prefix form.
//   - Server-supplied text is never trusted for layout: control characters
//     are replaced and long lines cut before they are printed.
//   - Tokens are decoded, never verified: the gateway verifies. A decoded
//     claim is evidence, not proof, and findings say "token" not "identity".
//   - Nothing here touches the network, the clock or the environment; the
//     caller passes times in.
package explain

import (
	"net/http"
	"sort"
	"time"
)

// Sent is what gwcurl sent (the CLI fills it after signing).
type Sent struct {
	Method, URL string
	AuthKind    string      // none, sigv4, sts-identity, google, cf-access, bearer, cognito, magic-link
	Header      http.Header // the signed request's headers (may hold secrets: never print them raw)
	SignedAt    time.Time   // local clock when signed
	Origin      string      // Origin header sent, if any (CORS)
	// SigV4 (when AuthKind is sigv4): what the client signed.
	CanonicalRequest, StringToSign, Region, Service string
	// Token kinds: the bearer/ID token sent (decoded here, never printed raw).
	Token string
}

// Received is the answer: its status, headers, the first 64 KiB of its body
// and the local time it arrived.
type Received struct {
	Status int
	Header http.Header
	Body   []byte // first 64 KiB
	At     time.Time
}

// Finding is one likely cause of a failure.
type Finding struct {
	Cause  string   // one line naming the cause
	Fix    string   // one line
	Detail []string // e.g. a canonical request diff
}

// Report is what [Decode] found in a pasted value.
type Report struct {
	Kind   string         // jwt, sts-identity, presigned-url, sigv4-authorization, aws-error, gateway-rejection, oauth-error, google-error, html-page, text, http-response
	Lines  []string       // human lines
	Fields map[string]any // for --json
}

// MaxBody is how much of a response body Diagnose reads.
const MaxBody = 64 << 10

// Confidence levels of findings. A cause the server states outright ranks
// above one derived from evidence, which ranks above an inference from what
// was sent.
const (
	scoreRoot     = 105 // explains a stated cause (a clock that makes a valid token "expired")
	scoreStated   = 100 // the server names it
	scoreDerived  = 90  // computed from what the server returned (a diff, a time)
	scoreLikely   = 70  // inferred from what was sent and the status
	scorePossible = 40  // worth checking
)

type scored struct {
	Finding
	key   string
	score int
	seq   int
}

// diag is one diagnosis in progress.
type diag struct {
	s    Sent
	r    Received
	resp *response
	sc   *scrubber
	out  map[string]*scored
	seq  int

	auth        *sigv4Auth // what gwcurl signed, parsed once
	authDone    bool
	timeProblem string    // set when the server refused a time: "sigv4", "token"
	timeHow     string    // the server's words about the time, for the clock finding
	serverNow   time.Time // the server's time as a refusal reason states it
	reqTime     time.Time // the request's time as the server's answer states it
	sentKnown   bool      // Sent describes a request (not a pasted answer)
	jwt         *jwtInfo  // the token gwcurl sent, decoded once
	jwtDone     bool
}

// add records a finding under key; of two findings with one key the more
// confident wins (the first on a tie).
func (d *diag) add(key string, score int, f Finding) {
	d.seq++
	if prev, ok := d.out[key]; ok && prev.score >= score {
		return
	}
	d.out[key] = &scored{Finding: f, key: key, score: score, seq: d.seq}
}

func (d *diag) has(key string) bool { _, ok := d.out[key]; return ok }

// Diagnose names the likely causes of a failed exchange, most likely first.
// It returns nil when nothing is known. It is meant for answers that are
// not 2xx, but also reports a CORS refusal on a 2xx answer (a browser would
// block it). Every line is scrubbed of secrets.
func Diagnose(s Sent, r Received) []Finding {
	if len(r.Body) > MaxBody {
		r.Body = r.Body[:MaxBody]
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if s.Header == nil {
		s.Header = http.Header{}
	}
	d := &diag{s: s, r: r, resp: parseResponse(r), sc: newScrubber(s), out: map[string]*scored{}}
	d.sentKnown = s.URL != "" || s.Method != "" || len(s.Header) > 0
	ok := r.Status >= 200 && r.Status < 300
	d.cors()
	if !ok {
		d.gateway()
		d.cloudflareErrors()
		d.aws()
		d.sigv4()
		d.tokens()
		d.cfAccess()
		d.stsIdentity()
		d.edge()
		d.clock()
		d.fallback()
	}
	return d.results()
}

func (d *diag) results() []Finding {
	list := make([]*scored, 0, len(d.out))
	for _, f := range d.out {
		list = append(list, f)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].score != list[j].score {
			return list[i].score > list[j].score
		}
		return list[i].seq < list[j].seq
	})
	if len(list) == 0 {
		return nil
	}
	out := make([]Finding, 0, len(list))
	for _, f := range list {
		out = append(out, d.sc.finding(f.Finding))
	}
	return out
}
