package explain

// The mock gateway's refusals: {"error": StatusText, "code": "…", "reason":
// "…", …details}. The diagnosis switches on the stable code
// (internal/rejectcode, docs/gateway.md "Rejection codes") and reads values
// from the detail fields; the reason is human text, quoted in findings but
// never parsed. An answer without a code (a gateway older than the codes)
// gets the generic finding that quotes its reason.

import (
	"fmt"
	"strings"
	"time"

	rc "github.com/gwcurl/gwcurl/internal/rejectcode"
)

// gateway explains the mock gateway's refusal.
func (d *diag) gateway() {
	g := d.resp.gw
	if g == nil {
		return
	}
	if g.Reason == "" && g.Code == "" {
		// explain: false (or a production-like environment): status only.
		d.add("gateway-quiet", scorePossible, Finding{
			Cause: fmt.Sprintf("the gateway refused the request (%d %s) without a reason: the route has explain: false", d.r.Status, g.Error),
			Fix:   "run the gateway without `--env quiet` (explain: true) to see the reason, or check its request log (/_mock/requests)",
		})
		return
	}
	if d.gatewaySigV4(g) || d.gatewayToken(g) || d.gatewayCFAccess(g) || d.gatewaySTS(g) || d.gatewayFrame(g) {
		return
	}
	d.add("gateway", scoreLikely, Finding{
		Cause: "gateway: " + g.Reason,
		Fix:   gatewayDefaultFix(g),
	})
}

// gatewaySigV4 handles the sigv4 verifier's codes.
func (d *diag) gatewaySigV4(g *gatewayRejection) bool {
	how := "gateway: " + g.Reason
	switch rc.Code(g.Code) {
	case rc.RegionMismatch:
		d.regionFinding(g.detail("got"), g.detail("want"), scoreStated, how)
	case rc.ServiceMismatch:
		d.serviceFinding(g.detail("got"), g.detail("want"), scoreStated, how)
	case rc.ScopeDateMismatch:
		d.add("scope-date", scoreStated, Finding{
			Cause: "credential scope date does not match X-Amz-Date: " + g.Reason,
			Fix:   "sign once with one timestamp: do not pass X-Amz-Date with -H",
		})
	case rc.ClockSkew:
		d.timeProblem, d.timeHow = "sigv4", how
		d.reqTime, _ = time.Parse(time.RFC3339, g.detail("request_time"))
	case rc.PresignExpired:
		d.timeProblem, d.timeHow = "sigv4", how
		d.add("presign-expired", scoreStated-5, Finding{
			Cause: "presigned URL expired: " + g.Reason,
			Fix:   "presign again (`gwcurl presign --expires 15m URL`) and use it before it expires",
		})
	case rc.UnsignedPayload:
		d.add("payload", scoreStated, Finding{
			Cause:  "unsigned payload: service " + g.detail("service") + " refuses UNSIGNED-PAYLOAD; the body's SHA-256 must be signed",
			Fix:    "drop --unsigned-payload (and auth.unsigned_payload) so gwcurl signs the body's hash",
			Detail: []string{how},
		})
	case rc.PayloadHashMismatch:
		d.add("payload", scoreStated, Finding{
			Cause:  "payload hash mismatch: the body that arrived is not the one that was hashed and signed",
			Fix:    "something changed the body after signing (a proxy re-encoding it, a retried stream): sign the exact bytes sent",
			Detail: []string{how},
		})
	case rc.UnknownAccessKey:
		d.unknownKey(g.detail("access_key_id"), scoreStated, how)
	case rc.SessionTokenMismatch:
		d.add("session-token", scoreStated, Finding{
			Cause: "session token: " + g.Reason,
			Fix:   "send the access key, secret and session token of one credential set (temporary ASIA… keys need X-Amz-Security-Token; long-term AKIA… keys must not have one)",
		})
	case rc.SignatureMismatch:
		d.signatureMismatch(g.detail("canonical_request"), g.detail("string_to_sign"), "the gateway")
	case rc.MissingSigV4:
		d.add("unsigned", scoreStated, Finding{
			Cause: "no SigV4 signature: the route requires AWS SigV4 and the request carried none",
			Fix:   "use a sigv4 profile (`gwcurl -p demo-sigv4 ...`) or `--auth sigv4` with AWS credentials",
		})
	case rc.HeaderNotSigned:
		d.add("signed-headers", scoreStated, Finding{
			Cause: "signed headers: " + g.Reason,
			Fix:   "a header was added or removed after signing (a proxy, or -H after a signed copy): let gwcurl sign the final request",
		})
	case rc.NotSigV4:
		d.add("unsigned", scoreStated, Finding{
			Cause: "wrong credential type: the route requires AWS SigV4 but the Authorization header is something else",
			Fix:   "use --auth sigv4 (or a sigv4 profile) for this route",
		})
	default:
		return false
	}
	return true
}

// gatewayToken handles the google_id and jwt verifiers' codes.
func (d *diag) gatewayToken(g *gatewayRejection) bool {
	code := rc.Code(g.Code)
	if d.s.AuthKind == "cf-access" && d.cfTokenCode(code, scoreStated) {
		return true // an Access app token: the cf_access verifier's view
	}
	switch code {
	case rc.MissingGoogleToken:
		d.add("no-token", scoreStated, Finding{
			Cause: "missing token: " + g.Reason,
			Fix:   "use a google profile (`gwcurl -p demo-google ...`) or `--auth google`; the token goes in Authorization: Bearer",
		})
	case rc.MissingBearer:
		d.add("no-token", scoreStated, Finding{
			Cause: "missing token: no bearer token in the " + g.detail("header") + " header",
			Fix:   refreshFix(d.s.AuthKind) + " (or use a profile whose auth kind sends a token)",
		})
	case rc.AudienceMismatch:
		d.audienceFinding(g.detail("want"), g.detail("got"), scoreStated)
	case rc.IssuerMismatch:
		d.add("issuer", scoreStated, Finding{
			Cause: fmt.Sprintf("issuer: the token is from %q, the service accepts %s", g.detail("got"), g.detail("want")),
			Fix:   "get the token from the issuer the service trusts (another environment's or provider's token will not do)",
		})
	case rc.TokenExpired:
		exp, _ := time.Parse(time.RFC3339, g.detail("at"))
		now, _ := time.Parse(time.RFC3339, g.detail("now"))
		d.serverNow = now
		d.expiredFinding(exp, now, scoreStated, "gateway time")
	case rc.TokenNotYetValid:
		d.gatewayNotYetValid(g)
	case rc.WrongTokenType:
		d.add("token-use", scoreStated, Finding{
			Cause: "wrong token type: the route wants a Cognito " + g.detail("want") + " token, the request carried " + g.detail("got"),
			Fix:   "send the " + g.detail("want") + " token: auth.use_token: " + g.detail("want") + " in the profile",
		})
	case rc.InsufficientScope:
		d.add("scope", scoreStated, Finding{
			Cause: "insufficient scope: the token lacks scope " + g.detail("want"),
			Fix:   "log in asking for it: add it to auth.scopes and run `gwcurl login -p PROFILE`",
		})
	default:
		return d.gatewayTokenKey(g)
	}
	return true
}

// gatewayNotYetValid: a token whose iat or nbf is in the future, by the
// gateway's clock when it said, else by this machine's.
func (d *diag) gatewayNotYetValid(g *gatewayRejection) {
	claim := g.detail("claim")
	if claim == "" {
		claim = "iat"
	}
	at, _ := time.Parse(time.RFC3339, g.detail("at"))
	now, _ := time.Parse(time.RFC3339, g.detail("now"))
	by := "server time"
	if now.IsZero() {
		now, _ = d.serverTime()
	}
	if now.IsZero() {
		now, by = d.localTime(), "your clock"
	} else {
		d.serverNow = now
	}
	d.notYetValidFinding(claim, at, now, scoreStated, by)
}

// gatewayTokenKey handles token codes about keys, principals and form.
func (d *diag) gatewayTokenKey(g *gatewayRejection) bool {
	switch rc.Code(g.Code) {
	case rc.TokenSignatureInvalid:
		if iss := g.detail("issuer"); iss != "" {
			d.add("token-key", scoreStated, Finding{
				Cause: "token signature invalid: not signed by a key of " + iss + " (kid " + fmt.Sprintf("%q", g.detail("kid")) + ")",
				Fix:   "the token comes from another issuer or an earlier gateway run (the mock's keys are new each start): log in again (`gwcurl login -p PROFILE`)",
			})
			return true
		}
		d.add("token-key", scoreStated, Finding{
			Cause: "token signature invalid: the token was altered or signed by someone else",
			Fix:   "mint a fresh token from the real issuer; never edit a token",
		})
	case rc.UnknownKeyID:
		d.add("token-key", scoreStated, Finding{
			Cause: "unknown signing key: the token was signed with key " + fmt.Sprintf("%q", g.detail("kid")) + ", which this server does not know",
			Fix:   "the token comes from another issuer or an earlier gateway run (the mock's keys are new each start): mint a fresh one (`gwcurl logout -p PROFILE`, then retry)",
		})
	case rc.PrincipalNotAllowed:
		if arn := g.detail("arn"); arn != "" {
			d.allowlistFinding(arn, "", scoreStated, "gateway: "+g.Reason)
			return true
		}
		d.add("principal", scoreStated, Finding{
			Cause: "principal not allowed: " + g.Reason,
			Fix:   "call with an identity on the route's allowed list (another service account or user), or add it to the route",
		})
	case rc.MalformedToken:
		d.add("token", scoreStated, Finding{
			Cause: "malformed token: " + g.Reason,
			Fix:   "send the raw token (no quotes or spaces), as `gwcurl token -p PROFILE` prints it",
		})
	default:
		return false
	}
	return true
}

// gatewayCFAccess handles the cf_access verifier's service-token codes
// (its app-token codes are the token codes, see cfTokenCode).
func (d *diag) gatewayCFAccess(g *gatewayRejection) bool {
	switch rc.Code(g.Code) {
	case rc.MissingCFAccess:
		d.cfMissing(g.detail("missing"), scoreStated)
	case rc.UnknownServiceToken:
		d.add("cf-token", scoreStated, Finding{
			Cause: "unknown CF Access service token: client id " + fmt.Sprintf("%q", g.detail("client_id")) + " is not a service token of this application",
			Fix:   "check --cf-client-id / auth.client_id (and that the Access policy has a Service Auth rule for the token)",
		})
	case rc.ServiceTokenSecret:
		d.add("cf-token", scoreStated, Finding{
			Cause: "wrong CF Access client secret for service token " + g.detail("client_id"),
			Fix:   "set the right secret in CF_ACCESS_CLIENT_SECRET or auth.client_secret (it may have been rotated)",
		})
	default:
		return false
	}
	return true
}

// gatewaySTS handles the sts_identity verifier's codes: STS's own refusal,
// an expired or future proof, the trusted endpoint, the server id.
func (d *diag) gatewaySTS(g *gatewayRejection) bool {
	how := "gateway: " + g.Reason
	switch rc.Code(g.Code) {
	case rc.STSRefused:
		if g.detail("sts_code") == "" {
			return false
		}
		d.awsError(&awsError{Format: "query-xml", Code: g.detail("sts_code"), Message: g.detail("sts_message"), Fields: map[string]string{}})
	case rc.ProofExpired:
		d.timeProblem, d.timeHow = "sigv4", how
		d.add("identity-expired", scoreStated-5, Finding{
			Cause: "identity proof expired: " + g.Reason,
			Fix:   "gwcurl signs a fresh proof per request: check this machine's clock; a copied identity header is honoured 15 minutes",
		})
	case rc.MissingSTSIdentity:
		d.add("no-identity", scoreStated, Finding{
			Cause: "missing STS identity: no " + g.detail("header") + " header was sent",
			Fix:   "use an sts-identity profile (`gwcurl -p demo-sts ...`) or --auth sts-identity; --identity-header must name the route's header",
		})
	case rc.STSEndpointRefused:
		d.add("sts-endpoint", scoreStated, Finding{
			Cause: "STS endpoint: " + g.Reason,
			Fix:   "sign the proof for the STS endpoint the route trusts (auth.sts_endpoint, --region)",
		})
	case rc.ServerIDMismatch:
		d.add("server-id", scoreStated, Finding{
			Cause: "server id: " + g.Reason,
			Fix:   "sign the identity for this gateway: --identity-server-id VALUE (or auth.server_id) with the value the gateway expects",
		})
	default:
		return false
	}
	return true
}

// gatewayFrame handles the frame's codes (edge policies, routing, the
// origin).
func (d *diag) gatewayFrame(g *gatewayRejection) bool {
	switch rc.Code(g.Code) {
	case rc.CORSRefused:
		if o := g.detail("refused_origin"); o != "" {
			d.corsFinding(o, scoreStated, "gateway: "+g.Reason)
			return true
		}
		d.add("cors", scoreStated, Finding{
			Cause: "CORS: " + strings.TrimPrefix(g.Reason, "cors: "),
			Fix:   "a browser's preflight must name an allowed origin, method and headers: see the route's cors settings (allow_origins, allow_methods, allow_headers)",
		})
	case rc.TooLarge:
		cause := "body too large: the limit is " + g.detail("limit")
		if size := claimString(g.Details["size"]); size != "" {
			cause = "body too large: " + size + " bytes, the limit is " + g.detail("limit")
		}
		d.add("too-large", scoreStated, Finding{Cause: cause, Fix: "send a smaller body (or raise body_limit in the gateway config)"})
	case rc.RateLimited, rc.UpstreamBusy:
		d.rateLimited("gateway: "+g.Reason, scoreStated)
	case rc.UpstreamRefused, rc.UpstreamTimeout, rc.UpstreamError:
		what := map[rc.Code]string{rc.UpstreamRefused: "refused the connection", rc.UpstreamTimeout: "did not answer within " + g.detail("timeout"), rc.UpstreamError: "failed"}[rc.Code(g.Code)]
		d.add("upstream", scoreStated, Finding{
			Cause: "upstream down: the gateway accepted the request but the origin " + g.detail("upstream") + " " + what,
			Fix:   "the problem is behind the gateway, not your credentials: start or fix the origin (the route's upstream)",
		})
	case rc.NoRoute:
		d.add("no-route", scoreStated, Finding{
			Cause: "no route: the gateway has no route for " + g.detail("path"),
			Fix:   "check the URL or the profile's base_url (the gateway's index page at / lists its routes)",
		})
	case rc.KindNotImplemented:
		d.add("not-implemented", scoreStated, Finding{
			Cause: "the gateway cannot verify auth kind " + g.detail("kind") + " yet",
			Fix:   "use a gateway build with that verifier, or another route",
		})
	default:
		return false
	}
	return true
}

func gatewayDefaultFix(g *gatewayRejection) string {
	if h := g.detail("hint"); h != "" {
		return h
	}
	return "fix what the reason names; `gwcurl -v` shows what was sent"
}

func (d *diag) unknownKey(key string, score int, how string) {
	f := Finding{
		Cause: "unknown access key: the server does not know " + key,
		Fix:   "use credentials the server accepts (--aws-profile, AWS_ACCESS_KEY_ID); the key may be deleted, inactive, from another account or partition",
	}
	if how != "" {
		f.Detail = []string{how}
	}
	d.add("access-key", score, f)
}

func (d *diag) allowlistFinding(arn, action string, score int, how string) {
	cause := "not allowed: " + arn + " is not on the route's allowlist"
	fix := "use credentials of an allowed principal (--aws-profile), or add the ARN to the allowlist (assumed roles match as arn:aws:iam::ACCOUNT:role/NAME)"
	if action != "" {
		cause = "not allowed: " + arn + " is not authorized to perform " + action
		fix = "grant " + action + " to " + arn + " (identity policy, and for function URLs across accounts the function's resource policy too), or use an allowed principal (--aws-profile)"
	}
	f := Finding{Cause: cause, Fix: fix}
	if how != "" {
		f.Detail = []string{how}
	}
	d.add("allowlist", score, f)
}

func (d *diag) rateLimited(how string, score int) {
	cause := "rate limited"
	if ra := d.r.Header.Get("Retry-After"); ra != "" {
		cause += ": the server asks to retry after " + ra + "s"
	}
	d.add("rate", score, Finding{
		Cause:  cause,
		Fix:    "slow down; `--retry N` retries 429/503 honouring Retry-After",
		Detail: []string{how},
	})
}
