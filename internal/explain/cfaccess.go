package explain

// Cloudflare Access. A request without valid Access credentials is not
// passed to the origin: Access answers a redirect to the team's login page
// (https://<team>.cloudflareaccess.com/cdn-cgi/access/login/<host>?…), or
// 403 with an HTML "Forbidden" page once a policy refuses the identity, or
// 401 for an invalid service token. The mock gateway's cf_access verifier
// answers JSON reasons instead (see gateway.go).

import (
	"net/url"
	"strings"
	"time"

	rc "github.com/gwcurl/gwcurl/internal/rejectcode"
)

func (d *diag) cfSent() (id, secret, token bool) {
	h := d.s.Header
	id = h.Get("Cf-Access-Client-Id") != ""
	secret = h.Get("Cf-Access-Client-Secret") != ""
	token = h.Get("Cf-Access-Token") != "" || strings.Contains(strings.Join(h.Values("Cookie"), ";"), "CF_Authorization=")
	return
}

// cfMissing explains missing Access credentials; missing names the header
// the gateway found absent, if it said.
func (d *diag) cfMissing(missing string, score int) {
	id, secret, token := d.cfSent()
	var cause, fix string
	switch {
	case strings.EqualFold(missing, "CF-Access-Client-Secret") || (id && !secret && !token):
		cause = "missing CF Access token: CF-Access-Client-Secret was not sent (only the client id)"
		fix = "set the service token's secret: CF_ACCESS_CLIENT_SECRET, or auth.client_secret as a secret reference (never a flag)"
	case strings.EqualFold(missing, "CF-Access-Client-Id") || (secret && !id):
		cause = "missing CF Access token: CF-Access-Client-Id was not sent (only the secret)"
		fix = "set the service token's client id: --cf-client-id ID, CF_ACCESS_CLIENT_ID or auth.client_id"
	default:
		cause = "missing CF Access token: no service token (CF-Access-Client-Id/Secret) and no app token (cf-access-token) was sent"
		fix = "services: --cf-client-id ID with CF_ACCESS_CLIENT_SECRET; people: `gwcurl login -p PROFILE` (a profile with auth kind cf-access)"
	}
	d.add("cf-missing", score, Finding{Cause: cause, Fix: fix})
}

// cfTokenCode explains why Access refused an app token, from the cf_access
// verifier's code and the token that was sent; false for a code that is not
// about the app token.
func (d *diag) cfTokenCode(code rc.Code, score int) bool {
	j := d.sentJWT()
	switch code {
	case rc.TokenExpired:
		if j != nil {
			local := d.localTime()
			if sv, _ := d.serverTime(); !sv.IsZero() {
				local = sv
			}
			d.expiredFinding(j.exp, local, score, "server time")
		} else {
			d.expiredFinding(time.Time{}, time.Time{}, score, "")
		}
	case rc.TokenNotYetValid:
		if j != nil && !j.nbf.IsZero() {
			sv, _ := d.serverTime()
			d.notYetValidFinding("nbf", j.nbf, sv, score, "server time")
		} else {
			d.notYetValidFinding("nbf", time.Time{}, time.Time{}, score, "")
		}
	case rc.AudienceMismatch:
		got := ""
		if j != nil {
			got = strings.Join(j.aud, ", ")
		}
		d.audienceFinding("this application's AUD tag", got, score)
	case rc.IssuerMismatch:
		iss := ""
		if j != nil {
			iss = j.str("iss")
		}
		d.add("issuer", score, Finding{
			Cause: "issuer: the app token is from " + quoteOr(iss, "another team") + ", not this application's team domain",
			Fix:   "log in to this application: `gwcurl login -p PROFILE`",
		})
	case rc.WrongTokenType:
		d.add("cf-token", score, Finding{
			Cause: "wrong Access token: an organization token was sent where an application token is needed",
			Fix:   "send the app token (`gwcurl login -p PROFILE` stores it; `gwcurl token -p PROFILE` prints it)",
		})
	case rc.TokenSignatureInvalid, rc.MalformedToken:
		d.add("cf-token", score, Finding{
			Cause: "invalid CF Access app token: " + d.resp.gw.Reason,
			Fix:   "log in again: `gwcurl login -p PROFILE`",
		})
	default:
		return false
	}
	return true
}

func quoteOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return `"` + s + `"`
}

// cfAccess explains a refusal by the real Cloudflare Access.
func (d *diag) cfAccess() {
	loc := d.r.Header.Get("Location")
	page := d.resp.page
	isLogin := strings.Contains(loc, ".cloudflareaccess.com/cdn-cgi/access/login") || strings.Contains(loc, "/cdn-cgi/access/login")
	isAccessPage := page != nil && (strings.Contains(page.Raw, "cloudflareaccess.com") || strings.Contains(page.Raw, "cloudflare access") || strings.Contains(page.Raw, "cdn-cgi/access"))
	if d.has("cf-waf") || d.has("rate") {
		return // Cloudflare's WAF stopped it before Access
	}
	if !isLogin && !isAccessPage && !(d.s.AuthKind == "cf-access" && (d.r.Status == 401 || d.r.Status == 403) && d.resp.gw == nil) {
		return
	}
	defer d.cfAccessEvidence(loc, isLogin)
	id, secret, token := d.cfSent()
	switch {
	case !d.sentKnown: // pasted: what was sent is unknown
		cause := "Cloudflare Access did not accept the request's credentials"
		if isLogin {
			cause += " and redirected to its login page"
		} else {
			cause += " (its 403 block page)"
		}
		d.add("cf-token", scoreStated-5, Finding{
			Cause: cause + ": no service token or app token was sent, the service token's secret is wrong or revoked, the application's policy has no Service Auth rule for it, or an app token expired or belongs to another application",
			Fix:   "services: --cf-client-id ID with CF_ACCESS_CLIENT_SECRET, and a Service Auth rule in the policy; people: `gwcurl login -p PROFILE`",
		})
	case !id && !secret && !token:
		d.cfMissing("", scoreStated-5)
	case id && !secret:
		d.cfMissing("CF-Access-Client-Secret", scoreStated-5)
	case id && secret:
		d.add("cf-token", scoreDerived-5, Finding{
			Cause: "Cloudflare Access refused the service token: wrong or revoked secret, or the application's policy has no Service Auth rule for this token",
			Fix:   "check CF_ACCESS_CLIENT_SECRET (and --cf-client-id), and that the Access policy includes the token with action Service Auth",
		})
	case token:
		cause := "Cloudflare Access refused the app token"
		if j := d.sentJWT(); j != nil && !j.exp.IsZero() && !d.localTime().IsZero() && !d.localTime().Before(j.exp) {
			d.expiredFinding(j.exp, d.localTime(), scoreDerived, "now")
			return
		}
		if isLogin {
			cause += " and redirected to its login page: the token is expired, for another application, or the policy does not allow you"
		} else {
			cause += ": your identity is not allowed by the application's policy, or the token is for another application"
		}
		d.add("cf-token", scoreDerived-5, Finding{
			Cause: cause,
			Fix:   "log in again for this host: `gwcurl login -p PROFILE`; if it persists, ask for access to the application",
		})
	}
}

// cfAccessEvidence adds the Access team (from the login redirect) and the
// Ray ID to the Cloudflare Access finding.
func (d *diag) cfAccessEvidence(loc string, isLogin bool) {
	var detail []string
	if isLogin {
		if u, err := url.Parse(loc); err == nil && strings.HasSuffix(u.Hostname(), ".cloudflareaccess.com") {
			team := strings.TrimSuffix(u.Hostname(), ".cloudflareaccess.com")
			app := strings.TrimPrefix(u.Path, "/cdn-cgi/access/login/")
			l := "Access team " + team + " (" + u.Hostname() + ")"
			if app != "" && app != u.Path {
				l += ", application " + app
			}
			detail = append(detail, l)
		}
	}
	if ray := d.r.Header.Get("Cf-Ray"); ray != "" {
		detail = append(detail, "cf-ray "+ray+" (Access's logs: Logs → Access)")
	}
	if len(detail) == 0 {
		return
	}
	for _, k := range []string{"cf-missing", "cf-token"} {
		if f, ok := d.out[k]; ok {
			f.Detail = append(f.Detail, detail...)
		}
	}
}
