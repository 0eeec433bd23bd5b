package explain

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/jwtclaims"
)

// jwtInfo is a decoded (not verified) JWT.
type jwtInfo struct {
	header map[string]any
	claims map[string]any
	aud    []string
	exp    time.Time // zero when absent
	nbf    time.Time
	iat    time.Time
}

func (j *jwtInfo) str(k string) string { s, _ := j.claims[k].(string); return s }

// decodeJWT decodes a compact JWS without verifying it (jwtclaims.Parts:
// numbers kept as json.Number, so they are shown as sent).
func decodeJWT(tok string) (*jwtInfo, error) {
	if strings.Count(strings.TrimSpace(tok), ".") != 2 {
		return nil, errors.New("not a JWT: want three base64url parts separated by '.'")
	}
	header, claims, err := jwtclaims.Parts(tok)
	if err != nil {
		if errors.Is(err, jwtclaims.ErrNotJWT) {
			return nil, errors.New("not a JWT: its header is not base64url JSON")
		}
		return nil, fmt.Errorf("not a JWT: %v", err)
	}
	j := &jwtInfo{header: header, claims: claims, aud: jwtclaims.Audience(claims)}
	j.exp, _ = jwtclaims.Time(claims, "exp")
	j.nbf, _ = jwtclaims.Time(claims, "nbf")
	j.iat, _ = jwtclaims.Time(claims, "iat")
	j.exp, j.nbf, j.iat = j.exp.UTC(), j.nbf.UTC(), j.iat.UTC()
	return j, nil
}

// issuerHint says what kind of token an issuer (and audience) makes it.
func issuerHint(iss string, aud []string, claims map[string]any) string {
	l := strings.ToLower(iss)
	audHas := func(suffix string) bool {
		for _, a := range aud {
			if strings.HasSuffix(a, suffix) {
				return true
			}
		}
		return false
	}
	switch {
	case l == "https://accounts.google.com" || l == "accounts.google.com":
		switch {
		case audHas(".apps.googleusercontent.com"):
			return "Google ID token of a user (gcloud / ADC authorized_user): its audience is the OAuth client, not your service; Cloud Run accepts it, IAP does not"
		case claims["email"] != nil && strings.HasSuffix(fmt.Sprint(claims["email"]), ".iam.gserviceaccount.com"):
			return "Google ID token of a service account"
		}
		return "Google-signed ID token"
	case strings.HasPrefix(l, "https://cloud.google.com/iap"):
		return "Google IAP assertion (x-goog-iap-jwt-assertion)"
	case strings.HasSuffix(l, ".iam.gserviceaccount.com"):
		if audHas("oauth2.googleapis.com/token") {
			return "a service account's self-signed assertion for Google's token endpoint (jwt-bearer grant), not an ID token"
		}
		return "a JWT self-signed by a service account key, not a Google-issued ID token"
	case strings.HasSuffix(l, ".cloudflareaccess.com"):
		switch claims["type"] {
		case "app":
			return "Cloudflare Access application token (CF_Authorization / cf-access-token)"
		case "org":
			return "Cloudflare Access organization token: scoped to the team, no application accepts it"
		}
		return "Cloudflare Access token"
	case strings.HasPrefix(l, "https://cognito-idp.") && strings.Contains(l, ".amazonaws.com/"):
		return "Amazon Cognito user pool token (" + tokenUse(claims) + ")"
	case strings.Contains(l, "/_mock/cognito"):
		return "token from the mock gateway's Cognito provider (" + tokenUse(claims) + ")"
	case strings.Contains(l, "/_mock/magic"):
		return "token from the mock gateway's magic-link provider"
	case strings.Contains(l, "/_mock/google") || strings.Contains(l, "/_mock/"):
		return "token from the mock gateway's identity providers"
	case strings.HasPrefix(l, "https://token.actions.githubusercontent.com"):
		return "GitHub Actions OIDC token"
	case strings.HasPrefix(l, "https://login.microsoftonline.com") || strings.HasPrefix(l, "https://sts.windows.net"):
		return "Microsoft Entra ID token"
	case strings.HasPrefix(l, "https://securetoken.google.com/"):
		return "Firebase Auth ID token"
	case strings.Contains(l, "kubernetes") || strings.HasPrefix(l, "https://oidc.eks."):
		return "Kubernetes service account token"
	case l == "":
		return "no issuer (iss) claim"
	}
	return ""
}

func tokenUse(claims map[string]any) string {
	switch claims["token_use"] {
	case "id":
		return "ID token"
	case "access":
		return "access token"
	}
	return "token_use not set"
}

// sentToken is the bearer/app token gwcurl sent: Sent.Token, else the one
// in a bearer header, cf-access-token or the CF_Authorization cookie.
func (d *diag) sentToken() string {
	if d.s.Token != "" {
		return strings.TrimSpace(d.s.Token)
	}
	for _, h := range []string{"Authorization", "X-Serverless-Authorization"} {
		if scheme, rest, ok := strings.Cut(d.s.Header.Get(h), " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(rest)
		}
	}
	for _, h := range []string{"Cf-Access-Token", "Cf-Access-Jwt-Assertion"} {
		if v := d.s.Header.Get(h); v != "" {
			return strings.TrimSpace(v)
		}
	}
	for _, c := range d.s.Header.Values("Cookie") {
		for part := range strings.SplitSeq(c, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "CF_Authorization" {
				return v
			}
		}
	}
	return ""
}

func (d *diag) sentJWT() *jwtInfo {
	if d.jwtDone {
		return d.jwt
	}
	d.jwtDone = true
	if t := d.sentToken(); t != "" {
		d.jwt, _ = decodeJWT(t)
	}
	return d.jwt
}

func tokenKind(kind string) bool {
	switch kind {
	case "google", "cf-access", "bearer", "cognito", "magic-link":
		return true
	}
	return false
}

// refreshFix is how to get a fresh token for an auth kind.
func refreshFix(kind string) string {
	switch kind {
	case "google":
		return "mint a fresh ID token: gwcurl refreshes cached tokens before expiry; clear a stale cache with `gwcurl logout -p PROFILE` and check the credential source's clock"
	case "cf-access", "cognito", "magic-link":
		return "log in again: `gwcurl login -p PROFILE`"
	case "bearer":
		return "get a new token and update the profile's auth.token secret"
	}
	return "get a fresh token and retry"
}

// ---- token findings ----

func (d *diag) audienceFinding(want, got string, score int) {
	fix := fmt.Sprintf("request the token for %s: --audience %s (or auth.audience in the profile)", want, want)
	switch d.s.AuthKind {
	case "cf-access":
		fix = "the app token belongs to another Access application: run `gwcurl login -p PROFILE` for this host"
	case "cognito", "magic-link", "bearer":
		fix = "use a token issued for this API (its client id / audience): check auth.client_id and log in again"
	}
	if want == "" {
		want = "another audience"
	}
	if got == "" {
		got = "(none)"
	}
	d.add("audience", score, Finding{
		Cause: fmt.Sprintf("audience: the token is for %s, the service expects %s", got, want),
		Fix:   fix,
	})
}

func (d *diag) expiredFinding(exp, now time.Time, score int, byWhom string) {
	d.timeProblem = "token"
	cause := "token expired"
	if !exp.IsZero() && !now.IsZero() {
		cause = fmt.Sprintf("token expired %s ago (exp %s, %s %s)", fmtDur(now.Sub(exp)), fmtTime(exp), byWhom, fmtTime(now))
	}
	d.add("token-time", score, Finding{Cause: cause, Fix: refreshFix(d.s.AuthKind)})
}

func (d *diag) notYetValidFinding(claim string, at, now time.Time, score int, byWhom string) {
	d.timeProblem = "token"
	cause := "token not yet valid"
	if !at.IsZero() && !now.IsZero() {
		cause = fmt.Sprintf("token not yet valid: %s is %s, %s in the future (%s %s)", claim, fmtTime(at), fmtDur(at.Sub(now)), byWhom, fmtTime(now))
	}
	d.add("token-time", score, Finding{
		Cause: cause,
		Fix:   "the issuer's clock is ahead of the server's (or the server's is behind): sync the clocks with NTP; a fresh token will not help until they agree",
	})
}

// tokens adds what the token gwcurl sent says about a refusal.
func (d *diag) tokens() {
	if d.r.Status != 401 && d.r.Status != 403 {
		return
	}
	tok := d.sentToken()
	if tok == "" {
		if tokenKind(d.s.AuthKind) && d.s.AuthKind != "cf-access" {
			d.add("no-token", scoreLikely, Finding{
				Cause: "no token was sent (auth kind " + d.s.AuthKind + ")",
				Fix:   refreshFix(d.s.AuthKind),
			})
		}
		return
	}
	j := d.sentJWT()
	if j == nil {
		return // an opaque token: only the server can judge it
	}
	local := d.s.SignedAt
	if local.IsZero() {
		local = d.r.At
	}
	server, _ := d.serverTime()
	// Expiry by our clock, or by the server's.
	switch {
	case !j.exp.IsZero() && !local.IsZero() && !local.Before(j.exp):
		d.expiredFinding(j.exp, local, scoreDerived, "now")
	case !j.exp.IsZero() && !server.IsZero() && !server.Before(j.exp):
		d.expiredFinding(j.exp, server, scoreDerived, "server time")
	case !j.nbf.IsZero() && !local.IsZero() && j.nbf.After(local.Add(time.Minute)):
		d.notYetValidFinding("nbf", j.nbf, local, scoreDerived, "now")
	case !j.iat.IsZero() && !server.IsZero() && j.iat.After(server.Add(time.Minute)):
		d.notYetValidFinding("iat", j.iat, server, scoreLikely, "server time")
	}
	// Google: the audience must be the service's URL (docs/auth/google.md, "Audience").
	if d.s.AuthKind == "google" && !d.has("audience") {
		d.googleAudience(j)
	}
	// Server says invalid_token and nothing above explains it.
	if c, ok := d.resp.bearerChallenge(); ok && c.Params["error"] != "" && !d.has("token-time") && !d.has("audience") {
		desc := c.Params["error_description"]
		cause := "the server refused the token: " + c.Params["error"]
		if desc != "" {
			cause += " (" + desc + ")"
		}
		d.add("token", scoreLikely, Finding{
			Cause:  cause,
			Fix:    "check the token's issuer, audience and expiry (`gwcurl explain` on `gwcurl token -p PROFILE`); " + refreshFix(d.s.AuthKind),
			Detail: tokenSummary(j, local),
		})
	}
}

// urlOrigin is scheme://host of a URL.
func urlOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// audienceMatches reports whether one of aud is the URL's origin or a
// prefix of the URL (Cloud Run accepts the service URL; custom audiences
// cannot be known here, so they count as a match only when equal).
func audienceMatches(aud []string, rawURL string) bool {
	origin := urlOrigin(rawURL)
	for _, a := range aud {
		a = strings.TrimRight(a, "/")
		if a == origin || strings.HasPrefix(rawURL, a+"/") || rawURL == a {
			return true
		}
	}
	return false
}

// tokenSummary is a few lines about a token (never the token itself).
func tokenSummary(j *jwtInfo, now time.Time) []string {
	var out []string
	if iss := j.str("iss"); iss != "" {
		out = append(out, "issuer: "+iss)
	}
	if len(j.aud) > 0 {
		out = append(out, "audience: "+strings.Join(j.aud, ", "))
	}
	if who := principalOf(j); who != "" {
		out = append(out, "subject: "+who)
	}
	if !j.exp.IsZero() {
		out = append(out, "expires: "+whenWords(j.exp, now))
	}
	return out
}

func principalOf(j *jwtInfo) string {
	for _, k := range []string{"email", "common_name", "username", "cognito:username", "sub"} {
		if s := j.str(k); s != "" {
			return s
		}
	}
	return ""
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
