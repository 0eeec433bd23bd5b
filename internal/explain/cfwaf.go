package explain

// Cloudflare's own refusals in front of a zone (before Access and the
// origin): the 1xxx errors. A browser gets an HTML page whose
// <span class="cf-error-code"> holds the code and whose footer holds the Ray
// ID; a client that does not ask for HTML (curl, gwcurl) gets a short
// text/plain body "error code: 1020". Every answer carries the cf-ray
// header. Codes and meanings: Cloudflare's "Troubleshooting Cloudflare 1XXX
// errors" (developers.cloudflare.com/support/troubleshooting/http-status-codes/
// cloudflare-1xxx-errors/); recorded answers in testdata/cloudflare/.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gwcurl/gwcurl/internal/lazyre"
)

var (
	reCFErrorSpan = lazyre.New(`(?i)class="cf-error-code"[^>]*>\s*(1\d{3})\s*<`)
	reCFErrorText = lazyre.New(`(?i)^error code:?\s*(1\d{3})\b`)
	reCFErrorHead = lazyre.New(`(?i)\bError (1\d{3})\b`)
	reCFRayID     = lazyre.New(`(?i)Ray ID:?\s*(?:<[^>]*>\s*)*([0-9a-f]{16}(?:-[A-Z]{3})?)`)
)

// cloudflareError returns the 1xxx code of a Cloudflare error answer and
// the request's Ray ID, or 0.
func (d *diag) cloudflareError() (code int, ray string) {
	p := d.resp
	h := d.r.Header
	fromCF := strings.EqualFold(h.Get("Server"), "cloudflare") || h.Get("Cf-Ray") != ""
	var m []string
	switch {
	case p.page != nil:
		if m = reCFErrorSpan.FindStringSubmatch(p.page.Raw); m == nil && (fromCF || strings.Contains(p.page.Raw, "cloudflare")) {
			m = reCFErrorHead.FindStringSubmatch(p.page.Text)
		}
	case p.text != "":
		m = reCFErrorText.FindStringSubmatch(strings.TrimSpace(p.text))
	}
	if m == nil {
		return 0, ""
	}
	code, _ = strconv.Atoi(m[1])
	ray = h.Get("Cf-Ray")
	if ray == "" && p.page != nil {
		if r := reCFRayID.FindStringSubmatch(p.page.Text); r != nil {
			ray = r[1]
		}
	}
	return code, ray
}

// cloudflareErrors explains Cloudflare's 1xxx refusals: a WAF or firewall
// rule (1020), Browser Integrity Check (1010), rate limiting (1015), IP and
// country blocks (1005-1009, 1012). None of them is about credentials: the
// request was stopped before Access or the origin saw it.
func (d *diag) cloudflareErrors() {
	code, ray := d.cloudflareError()
	if code == 0 {
		return
	}
	var detail []string
	if ray != "" {
		detail = append(detail, "Cloudflare Ray ID "+ray+": the zone's owner finds the rule that matched under Security → Events (search by Ray ID)")
	}
	if ua := d.s.Header.Get("User-Agent"); ua != "" && code == 1010 {
		detail = append(detail, "User-Agent sent: "+ua)
	}
	never := "; the request never reached Cloudflare Access or the origin, so credentials are not the problem"
	switch code {
	case 1010:
		d.add("cf-waf", scoreStated, Finding{
			Cause:  "Cloudflare blocked the request by its browser signature (error 1010, Browser Integrity Check)" + never,
			Fix:    "send a User-Agent that names your client (-H 'User-Agent: myapp/1.0'; gwcurl sends gwcurl/VERSION unless -H replaces it), or ask the zone's owner for a WAF skip rule (Browser Integrity Check) for this API, quoting the Ray ID",
			Detail: detail,
		})
	case 1020:
		d.add("cf-waf", scoreStated, Finding{
			Cause:  "Cloudflare WAF blocked the request (error 1020 Access denied): a firewall or WAF custom rule of the zone matched it (IP, country, ASN, path, header or user agent)" + never,
			Fix:    "ask the zone's owner to look up the Ray ID in Security → Events and narrow the rule or add a skip rule for this client; retrying or new credentials will not help",
			Detail: detail,
		})
	case 1015:
		cause := "rate limited by Cloudflare (error 1015): a rate limiting rule of the zone blocked this client for a while"
		if ra := d.r.Header.Get("Retry-After"); ra != "" {
			cause += fmt.Sprintf(" (Retry-After: %ss)", ra)
		}
		d.add("rate", scoreStated+1, Finding{
			Cause:  cause,
			Fix:    "wait before retrying (`--retry N` honours Retry-After); retrying at once can extend the block; the zone's owner can raise the rule's threshold or period",
			Detail: detail,
		})
	case 1005, 1006, 1007, 1008, 1009, 1012:
		what := map[int]string{1005: "the client's ASN is banned", 1006: "the client's IP address is banned", 1007: "the client's IP address is banned",
			1008: "the client's IP address is banned", 1009: "the client's country or region is banned", 1012: "access is denied by the zone's security settings"}[code]
		d.add("cf-waf", scoreStated, Finding{
			Cause:  fmt.Sprintf("Cloudflare refused the request (error %d): %s%s", code, what, never),
			Fix:    "call from an allowed network, or ask the zone's owner to allow this client (IP Access Rules), quoting the Ray ID",
			Detail: detail,
		})
	default:
		d.add("cf-waf", scoreLikely, Finding{
			Cause:  fmt.Sprintf("Cloudflare error %d: %s", code, orDefault(d.resp.message(), "Cloudflare answered for the zone")),
			Fix:    fmt.Sprintf("see Cloudflare's documentation for error %d (support/troubleshooting/http-status-codes/cloudflare-1xxx-errors/error-%d)", code, code),
			Detail: detail,
		})
	}
}
