package explain

import (
	"fmt"
	"time"
)

// Clock skew. SigV4 requests must reach AWS within 5 minutes of their
// X-Amz-Date (S3 and STS allow 15); JWTs carry exp/nbf/iat that verifiers
// check against their own clock with little or no leeway. The server's time
// comes from the body when it states one, else from the Date header; the
// local time is when the answer arrived (Received.At), else when gwcurl
// signed.

// skewNotable is the smallest offset worth mentioning on its own.
const skewNotable = time.Minute

// sigv4MaxSkew is AWS's default tolerance (docs/auth/sigv4.md, "Troubleshooting").
const sigv4MaxSkew = 5 * time.Minute

// localTime is the local clock reading to compare with the server's.
func (d *diag) localTime() time.Time {
	if !d.r.At.IsZero() {
		return d.r.At
	}
	return d.s.SignedAt
}

// requestTime is the time the request says it was signed: X-Amz-Date, or
// the presigned URL's X-Amz-Date, else SignedAt.
func (d *diag) requestTime() (time.Time, bool) {
	if !d.reqTime.IsZero() {
		return d.reqTime, true
	}
	if v := d.s.Header.Get("X-Amz-Date"); v != "" {
		if t, err := time.Parse(awsv4TimeFormat, v); err == nil {
			return t, true
		}
	}
	if a := d.sigv4Auth(); a != nil && !a.amzDate.IsZero() {
		return a.amzDate, true
	}
	if !d.s.SignedAt.IsZero() {
		return d.s.SignedAt, true
	}
	return time.Time{}, false
}

// skew measures server − local, to the second. ok is false when either is
// unknown. Every server time source has whole seconds (Date, RFC 3339
// times, X-Amz-Date), so a reading t means [t, t+1s): when the local clock
// has sub-second precision the midpoint is the better estimate.
func (d *diag) skew() (skew time.Duration, server time.Time, src string, ok bool) {
	server, src = d.serverTime()
	local := d.localTime()
	if server.IsZero() || local.IsZero() {
		return 0, server, src, false
	}
	est := server
	if local.Nanosecond() != 0 && server.Nanosecond() == 0 {
		est = server.Add(500 * time.Millisecond)
	}
	return est.Sub(local).Round(time.Second), server, src, true
}

// clock adds the clock-skew finding. It runs after the other rules, which
// set d.timeProblem when the server complained about time.
func (d *diag) clock() {
	d.clockSkew()
	if d.timeProblem == "sigv4" && !d.has("clock") && !d.has("identity-expired") && !d.has("presign-expired") {
		// The server refused the request time, and there is nothing to
		// measure it against.
		f := Finding{
			Cause: "request time refused: the server says the signature is too old or too far in the future (clock skew, or a replayed request)",
			Fix:   "sync this machine's clock with NTP and let gwcurl sign each attempt",
		}
		if d.timeHow != "" {
			f.Detail = []string{d.timeHow}
		}
		d.add("clock", scoreStated-10, f)
	}
}

func (d *diag) clockSkew() {
	sk, server, src, ok := d.skew()
	if !ok {
		// No local reading (a pasted answer): compare the request's own
		// time with the server's.
		server, src = d.serverTime()
		req, rok := d.requestTime()
		if d.timeProblem == "" || server.IsZero() || !rok {
			return
		}
		off := server.Sub(req)
		if off.Abs() < skewNotable {
			return
		}
		d.add("clock", scoreDerived, Finding{
			Cause:  fmt.Sprintf("clock skew: the request was signed %s %s the server's time", fmtDur(off.Abs()), map[bool]string{true: "before", false: "after"}[off > 0]),
			Fix:    "sync the signing machine's clock with NTP and sign again (the signature time must be within minutes of the server's)",
			Detail: []string{fmt.Sprintf("request time %s, server time %s (from %s)", fmtTime(req), fmtTime(server), src)},
		})
		return
	}
	abs := sk.Abs()
	if abs < skewNotable {
		if d.timeProblem == "sigv4" {
			// The server refused the time but the clocks agree: the
			// signature is old (a replayed or copied request), not skewed.
			if req, rok := d.requestTime(); rok && !server.IsZero() && server.Sub(req).Abs() > sigv4MaxSkew {
				if req.Before(server) {
					d.add("clock", scoreDerived, Finding{
						Cause: fmt.Sprintf("stale signature: the request was signed at %s, %s before the server received it (your clock agrees with the server's)", fmtTime(req), fmtDur(server.Sub(req))),
						Fix:   "sign each request when it is sent (do not replay a signed request or a copied X-Amz-Date); gwcurl re-signs every attempt",
					})
				} else {
					d.add("clock", scoreDerived, Finding{
						Cause: fmt.Sprintf("future-dated signature: the request is dated %s, %s ahead of the server, though your clock agrees with the server's", fmtTime(req), fmtDur(req.Sub(server))),
						Fix:   "the request was signed on another machine with a fast clock, or its date was set by hand: sign it here (gwcurl signs each attempt)",
					})
				}
			}
		}
		return
	}
	dir := "behind"
	if sk < 0 {
		dir = "ahead of"
	}
	cause := fmt.Sprintf("clock skew: your clock is %s %s the server", fmtDur(abs), dir)
	detail := []string{fmt.Sprintf("server time %s (from %s), your clock %s", fmtTime(server), src, fmtTime(d.localTime()))}
	if d.timeHow != "" {
		detail = append(detail, d.timeHow)
	}
	score := scorePossible
	switch {
	case d.timeProblem == "token":
		// The clock is the cause only if the token is valid by the local
		// clock: an expired token stays expired whatever the clocks say.
		switch valid, known := d.tokenValidLocally(); {
		case known && valid:
			score = scoreRoot // above the server's "expired", which it explains
		case !known:
			score = scoreDerived - 5
		}
	case d.timeProblem != "":
		score = scoreStated
	case abs > sigv4MaxSkew && timeSensitive(d.s.AuthKind):
		score = scoreDerived
	}
	fix := "sync this machine's clock with NTP (Linux: `sudo timedatectl set-ntp true` or `sudo chronyc makestep`; macOS: `sudo sntp -sS time.apple.com`) and retry"
	switch {
	case d.s.AuthKind == "sigv4" || d.s.AuthKind == "sts-identity":
		fix += "; SigV4 allows 5 minutes"
	case d.timeProblem == "token":
		fix += "; tokens are checked against the server's clock"
	}
	d.add("clock", score, Finding{Cause: cause, Fix: fix, Detail: detail})
}

// tokenValidLocally reports whether the token gwcurl sent is within its
// validity by the local clock (known is false without a decodable token).
func (d *diag) tokenValidLocally() (valid, known bool) {
	j := d.sentJWT()
	local := d.localTime()
	if j == nil || local.IsZero() {
		return false, false
	}
	return (j.exp.IsZero() || local.Before(j.exp)) &&
		(j.nbf.IsZero() || !j.nbf.After(local.Add(time.Minute))) &&
		(j.iat.IsZero() || !j.iat.After(local.Add(time.Minute))), true
}

func timeSensitive(kind string) bool {
	switch kind {
	case "none", "":
		return false
	}
	return true
}

// fmtDur prints a duration compactly: 45s, 10m, 10m2s, 3h5m, 2d3h.
func fmtDur(d time.Duration) string {
	d = d.Abs().Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m, s := int(d.Minutes()), int(d.Seconds())%60
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d.Hours())/24, int(d.Hours())%24
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// relative says when t is relative to now, in words: "in 5m", "3h ago".
func relative(t, now time.Time) string {
	if now.IsZero() {
		return ""
	}
	d := t.Sub(now)
	if d.Abs() >= 10*time.Minute {
		d = d.Round(time.Minute) // "in 58m", not "in 57m59s"
	}
	switch {
	case d.Abs() < time.Second:
		return "now"
	case d > 0:
		return "in " + fmtDur(d)
	}
	return fmtDur(d) + " ago"
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// whenWords is "2026-01-02T03:04:05Z (3h ago)".
func whenWords(t, now time.Time) string {
	if r := relative(t, now); r != "" {
		return fmtTime(t) + " (" + r + ")"
	}
	return fmtTime(t)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
