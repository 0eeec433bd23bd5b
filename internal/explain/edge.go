package explain

// CORS, and the answers of the edges in front of origins: CloudFront, API
// Gateway, Cloud Run / Google front ends, rate limits and upstream errors.

import (
	"fmt"
	"strings"
)

// cors checks the answer against the Origin gwcurl sent (Fetch standard
// "CORS check"): Access-Control-Allow-Origin must be present once and equal
// the origin (or "*" without credentials); a preflight must also allow the
// requested method and headers.
func (d *diag) cors() {
	origin := d.s.Origin
	if origin == "" {
		origin = d.s.Header.Get("Origin")
	}
	if origin == "" {
		return
	}
	h := d.r.Header
	acao := h.Values("Access-Control-Allow-Origin")
	preflight := d.s.Method == "OPTIONS" && d.s.Header.Get("Access-Control-Request-Method") != ""
	ok2xx := d.r.Status >= 200 && d.r.Status < 300
	score := scorePossible
	if ok2xx || preflight {
		score = scoreDerived
	}
	credentials := d.s.Header.Get("Cookie") != "" || d.s.Header.Get("Authorization") != ""
	switch {
	case len(acao) == 0 && !ok2xx && !preflight:
		d.add("cors", scorePossible, Finding{
			Cause: "CORS: the error answer has no Access-Control-Allow-Origin for " + origin + ", so a browser hides it (the cause above still applies)",
			Fix:   "make the server (or the edge in front of it) send CORS headers on error answers too",
		})
		return
	case len(acao) == 0:
		d.corsFinding(origin, score, "the answer has no Access-Control-Allow-Origin header")
		return
	case len(acao) > 1:
		d.add("cors", score, Finding{
			Cause: "CORS: the answer has " + fmt.Sprint(len(acao)) + " Access-Control-Allow-Origin headers; browsers accept exactly one",
			Fix:   "make one layer (origin or edge) set the CORS headers, not both",
		})
		return
	case acao[0] == "*" && credentials && h.Get("Access-Control-Allow-Credentials") == "true":
		d.add("cors", scorePossible, Finding{
			Cause: "CORS: Access-Control-Allow-Origin is \"*\", which browsers refuse for requests with credentials",
			Fix:   "answer the exact origin (" + origin + ") instead of *",
		})
		return
	case acao[0] != "*" && acao[0] != origin:
		d.corsFinding(origin, score, "the answer allows "+acao[0])
		return
	}
	if !preflight {
		return
	}
	method := d.s.Header.Get("Access-Control-Request-Method")
	if am := h.Get("Access-Control-Allow-Methods"); am != "" && !listHas(am, method) && !listHas(am, "*") {
		d.add("cors", scoreDerived, Finding{
			Cause: "CORS: the preflight does not allow method " + method + " (allowed: " + am + ")",
			Fix:   "add " + method + " to the server's allowed CORS methods",
		})
		return
	}
	if rh := d.s.Header.Get("Access-Control-Request-Headers"); rh != "" {
		ah := h.Get("Access-Control-Allow-Headers")
		for name := range strings.SplitSeq(rh, ",") {
			name = strings.TrimSpace(name)
			if name != "" && !listHas(ah, name) && !listHas(ah, "*") {
				d.add("cors", scoreDerived, Finding{
					Cause: "CORS: the preflight does not allow request header " + name,
					Fix:   "add " + name + " to the server's allowed CORS headers",
				})
				return
			}
		}
	}
}

func listHas(list, item string) bool {
	for e := range strings.SplitSeq(list, ",") {
		if strings.EqualFold(strings.TrimSpace(e), item) {
			return true
		}
	}
	return false
}

func (d *diag) corsFinding(origin string, score int, how string) {
	f := Finding{
		Cause: "CORS: origin " + origin + " is not allowed",
		Fix:   "call from an allowed origin, or add " + origin + " to the server's CORS allowlist (mock gateway: cors.allow_origins)",
	}
	if how != "" {
		f.Detail = []string{how}
	}
	d.add("cors", score, f)
}

// edge explains answers of edges and front ends that are not the mock
// gateway's JSON.
func (d *diag) edge() {
	st := d.r.Status
	p := d.resp
	msg := p.message()
	if p.gw != nil {
		return // the gateway's reasons are handled in gateway()
	}
	switch {
	case st == 413:
		d.add("too-large", scoreStated, Finding{Cause: "body too large: the server or an edge in front of it has a smaller body limit", Fix: "send a smaller body (or raise the limit)", Detail: detailIf(msg)})
	case st == 429:
		d.rateLimited("server: "+orDefault(msg, "429 Too Many Requests"), scoreStated)
	case st == 502 || st == 503 || st == 504:
		d.upstream(msg)
	}
	// Google front ends (Cloud Run, Cloud Functions, IAP).
	if pg := p.page; pg != nil && (st == 401 || st == 403) && strings.Contains(pg.Text, "Your client does not have permission") {
		d.cloudRun(st)
	}
	if strings.HasPrefix(p.text, "Invalid IAP credentials") {
		d.add("token", scoreStated, Finding{
			Cause: "IAP refused the token: " + firstLine(p.text),
			Fix:   "IAP needs an ID token whose audience is the IAP OAuth client id (--audience CLIENT_ID), from a service account, not gcloud user credentials",
		})
	}
	if g := p.goog; g != nil && (st == 401 || st == 403) {
		d.add("google", scoreLikely, Finding{
			Cause: "Google: " + g.Status + ": " + g.Message,
			Fix:   "UNAUTHENTICATED: the token is missing, expired or for another audience; PERMISSION_DENIED: the principal lacks the role",
		})
	}
	// CloudFront's own refusals.
	if pg := p.page; pg != nil && strings.Contains(pg.Raw, "generated by cloudfront") && st == 403 {
		d.cloudFrontPage(pg)
	}
}

// cloudFrontPage explains CloudFront's own 403 page ("ERROR: The request
// could not be satisfied", "Generated by cloudfront (CloudFront)"): its
// first paragraph names the cause (CloudFront Developer Guide, "HTTP 403
// status code (Permission Denied)" and "HTTP 405"; recorded in
// testdata/aws/cloudfront-*.txtar).
func (d *diag) cloudFrontPage(pg *htmlPage) {
	ev := append(detailIf(cfPageReason(pg.Text)), d.cloudFrontEvidence()...)
	f := Finding{
		Cause:  "CloudFront refused the request itself (WAF, geo restriction, or a method/behaviour it does not allow); it never reached the origin",
		Fix:    "check the distribution's WAF rules, allowed methods and geo restrictions; the X-Amz-Cf-Id identifies the request in CloudFront logs",
		Detail: ev,
	}
	l := strings.ToLower(pg.Text)
	switch {
	case strings.Contains(l, "not configured to allow the http request method"):
		f.Cause = "CloudFront does not allow " + orDefault(d.s.Method, "this method") + " on this path: the cache behavior's allowed methods are GET and HEAD (\"supports only cachable requests\"); the request never reached the origin"
		f.Fix = "set the behavior's allowed HTTP methods to GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE (with OAC to a Lambda URL also send x-amz-content-sha256)"
	case strings.Contains(l, "block access from your country"):
		f.Cause = "CloudFront geo restriction: the distribution blocks requests from this client's country"
		f.Fix = "call from an allowed country, or change the distribution's geographic restrictions"
	case strings.Contains(l, "request blocked"):
		f.Cause = "CloudFront blocked the request (\"Request blocked\"): usually an AWS WAF rule of the distribution; the request never reached the origin"
		f.Fix = "find the rule in the web ACL's sampled requests or WAF logs (search by X-Amz-Cf-Id); credentials will not help"
	case strings.Contains(l, "bad request"):
		f.Cause = "CloudFront answered \"Bad request\": the Host is not an alternate domain name (CNAME) of the distribution, or the request is malformed for CloudFront"
		f.Fix = "add the domain as an alternate domain name (with a matching certificate), or call the distribution's own *.cloudfront.net name"
	}
	d.add("cloudfront", scoreStated-5, f)
}

// cfPageReason is the sentence of CloudFront's page after its heading.
func cfPageReason(text string) string {
	_, rest, ok := strings.Cut(text, "could not be satisfied.")
	if !ok {
		return firstSentence(text)
	}
	rest = strings.TrimSpace(rest)
	if i := strings.Index(rest, "We can't connect"); i > 0 {
		rest = rest[:i]
	}
	if i := strings.Index(rest, "Generated by cloudfront"); i >= 0 {
		rest = rest[:i]
	}
	return "CloudFront: " + strings.TrimSpace(firstSentence(rest))
}

func detailIf(s string) []string {
	if s == "" {
		return nil
	}
	return []string{"server: " + s}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 && i < 200 {
		return s[:i+1]
	}
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func (d *diag) upstream(msg string) {
	st := d.r.Status
	switch {
	case d.resp.page != nil && strings.Contains(d.resp.page.Raw, "cloudfront"):
		d.add("upstream", scoreStated, Finding{
			Cause: fmt.Sprintf("CloudFront could not get an answer from the origin (%d): the origin is down, slow or refused the connection", st),
			Fix:   "the problem is behind CloudFront, not your credentials: check the origin's health and the distribution's origin settings",
		})
	case msg == "Internal server error" && st == 502:
		d.add("upstream", scoreStated, Finding{
			Cause: "API Gateway: the integration (Lambda) failed or returned a malformed proxy response",
			Fix:   "check the function's logs; a proxy integration must return {statusCode, headers, body}",
		})
	case strings.Contains(msg, "Endpoint request timed out"):
		d.add("upstream", scoreStated, Finding{
			Cause: "API Gateway: the integration did not answer in time (29 s by default)",
			Fix:   "make the backend faster or raise the integration timeout",
		})
	default:
		cause := fmt.Sprintf("upstream error (%d): the edge could not get an answer from the origin", st)
		if st == 503 {
			cause = "service unavailable (503): the origin is overloaded or down"
		}
		d.add("upstream", scoreLikely, Finding{
			Cause:  cause,
			Fix:    "not a credentials problem: retry later (`--retry N`) or check the origin",
			Detail: detailIf(msg),
		})
	}
}

// cloudRun explains Cloud Run's / Cloud Functions' 401 and 403 pages.
func (d *diag) cloudRun(status int) {
	tok := d.sentToken()
	switch {
	case !d.sentKnown && status == 401: // pasted: the request is unknown
		d.add("token", scoreStated, Finding{
			Cause: "Cloud Run (Google Front End) refused the ID token (401: authentication, not permission): its audience is not the service URL (a path, another service, a custom domain that is not a custom audience), it expired, or it is not a Google-signed ID token",
			Fix:   "decode the token that was sent (`gwcurl explain TOKEN`) and request one for the service's run.app URL: --audience https://SERVICE-….run.app",
		})
	case !d.sentKnown && status == 403:
		d.add("forbidden", scoreStated, Finding{
			Cause: "Cloud Run (Google Front End) refused the request (403): no ID token was sent, or the token was valid but its principal lacks roles/run.invoker on the service",
			Fix:   "send a Google ID token (--auth google); if one was sent, grant the invoker role: " + invokerFix("", ""),
		})
	case tok == "":
		d.add("no-token", scoreStated, Finding{
			Cause: "no ID token: the service requires authentication and the request carried no bearer token",
			Fix:   "use --auth google (or a google profile) so gwcurl sends a Google-signed ID token",
		})
	case status == 403 && !d.has("audience") && !d.has("token-time"):
		who := ""
		if j := d.sentJWT(); j != nil {
			who = principalOf(j)
		}
		d.add("forbidden", scoreLikely, Finding{
			Cause: "permission denied: the ID token was accepted but " + orDefault(who, "its principal") + " may not invoke the service",
			Fix:   "grant roles/run.invoker on the service to " + orDefault(who, "the principal") + ": " + invokerFix(d.host(), who) + " (or call as an allowed principal)",
		})
	case status == 401 && !d.has("audience") && !d.has("token-time"):
		d.add("token", scoreLikely, Finding{
			Cause: "the ID token was not accepted (401: authentication, not permission): wrong audience, expired, or not Google-signed",
			Fix:   "request the token for the service URL (--audience https://SERVICE-URL); `gwcurl explain` on `gwcurl token -p PROFILE` shows its claims",
		})
	}
}

// fallback adds a finding when nothing else explained a refusal.
func (d *diag) fallback() {
	if len(d.out) > 0 {
		return
	}
	st := d.r.Status
	msg := d.resp.message()
	switch {
	case d.sentKnown && (st == 401 || st == 403) && (d.s.AuthKind == "none" || d.s.AuthKind == "") && d.s.Header.Get("Authorization") == "":
		scheme := ""
		for _, c := range d.resp.wwwa {
			scheme = c.Scheme
			break
		}
		cause := "no credentials were sent and the server wants some"
		if scheme != "" {
			cause += " (WWW-Authenticate: " + scheme + ")"
		}
		d.add("no-credentials", scoreLikely, Finding{
			Cause:  cause,
			Fix:    "pick a profile with the right auth (-p PROFILE) or set --auth KIND",
			Detail: detailIf(msg),
		})
	case msg != "" && (st >= 400 || st == 0):
		d.add("server", scorePossible, Finding{
			Cause: "server says: " + firstLine(msg),
			Fix:   "`gwcurl -v` shows what was sent; compare it with what the server expects",
		})
	case st == 401 || st == 403:
		d.add("server", scorePossible, Finding{
			Cause: fmt.Sprintf("the server refused the request (%d) without saying why", st),
			Fix:   "rerun with -v to see what was signed and sent; check the profile's auth kind, region/service or audience",
		})
	}
}
