package explain

// The mock gateway's refusals: {"error": StatusText, "reason": "…", …}. The
// reason strings matched here are the ones the verifiers in
// internal/gateway/verify/* and the frame (internal/gateway) produce; a test
// runs each against the real gateway so a reworded reason is caught.

import (
	"fmt"
	"github.com/gwcurl/gwcurl/internal/lazyre"
	"time"
)

var (
	// sigv4 verifier
	reGwRegion     = lazyre.New(`^credential scope region: signed for (\S+), route expects (\S+)`)
	reGwService    = lazyre.New(`^credential scope service: signed for (\S+), route expects (\S+)`)
	reGwScopeDate  = lazyre.New(`^credential scope date (\S+) does not match the request date (\S+)`)
	reGwReqTime    = lazyre.New(`^request time (\S+) is (\S+) off the gateway clock \(max (\S+)\)`)
	reGwPresignExp = lazyre.New(`^presigned request expired at (\S+)`)
	reGwUnsigned   = lazyre.New(`^unsigned payload not allowed for service (\S+)`)
	reGwPayload    = lazyre.New(`^payload hash mismatch`)
	reGwUnknownKey = lazyre.New(`^unknown access key (\S+)`)
	reGwToken      = lazyre.New(`X-Amz-Security-Token`)
	reGwNoSigV4    = lazyre.New(`^missing AWS SigV4 authentication`)
	reGwNotSigned  = lazyre.New(`^(\S+) is present but not signed|^host is not signed|^the request date is not signed|^signed header (\S+) is not in the request`)
	reGwNotSigV4   = lazyre.New(`^the Authorization header is not AWS SigV4`)
	// google_id and jwt verifiers
	reGwNoGoogle  = lazyre.New(`^no Google ID token|empty bearer token|uses scheme .*, want Bearer`)
	reGwAud       = lazyre.New(`^claim aud: want (.+?), got (.+)$`)
	reGwIss       = lazyre.New(`^claim iss: want (.+?), got "?([^"]*)"?$`)
	reGwExpired   = lazyre.New(`^token expired at (\S+) \((?:now (\S+)|(\S+) ago)\)`)
	reGwFuture    = lazyre.New(`^token issued in the future at (\S+)(?: \(now (\S+)\))?|^claim iat is in the future \((\S+)\)`)
	reGwNbf       = lazyre.New(`^token not valid before (\S+?)(?: \(now (\S+)\))?$`)
	reGwNoBearer  = lazyre.New(`^missing bearer token in the (\S+) header`)
	reGwTokenUse  = lazyre.New(`^claim token_use: want (\S+), got (\S+)`)
	reGwClientID  = lazyre.New(`^claim client_id: want (.+?), got (.+)$`)
	reGwScope     = lazyre.New(`^claim scope: missing (\S+)`)
	reGwJWTKey    = lazyre.New(`^signature: not signed by a key of (\S+) \(kid "(.*?)"\)`)
	reGwKid       = lazyre.New(`^unknown key id "(.*)"`)
	reGwTokSig    = lazyre.New(`^signature mismatch \(key id`)
	reGwEmail     = lazyre.New(`^email (\S+) is not allowed on this route|^claim email: missing|^claim email_verified`)
	reGwMalformed = lazyre.New(`^malformed token|^alg \S+ not allowed|^the bearer token is not a JWT|^JWT signature algorithm not accepted|^the JWT must carry|^the JWT payload is not|^claim exp is missing|^claim exp: missing|^the \S+ header must be "Bearer|^the bearer token is empty`)
	// cf_access verifier
	reGwCFMissing  = lazyre.New(`^missing CF Access service token`)
	reGwCFToken    = lazyre.New(`^invalid CF_Authorization token: (.*)`)
	reGwCFClientID = lazyre.New(`^unknown service token client id "(.*)"`)
	reGwCFSecret   = lazyre.New(`^invalid service token secret for client id (\S+)`)
	// sts_identity verifier: an ARN refused by the allowlist, a server id
	reARN         = lazyre.New(`arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[^\s"',)]+`)
	reGwAllowlist = lazyre.New(`(?i)allow ?list|not allowed|is not permitted|not in the allowed`)
	reGwServerID  = lazyre.New(`(?i)server[ _-]?id|x-k8s-aws-id`)
	reGwSTSRelay  = lazyre.New(`^STS refused the proof: (\w+): (.*)`)
	reGwProofExp  = lazyre.New(`^the proof expired at (\S+)`)
	reGwProofTime = lazyre.New(`^the proof is dated (\S+), (\S+) ahead of the gateway clock`)
	reGwNoProof   = lazyre.New(`^missing (\S+) header: send a signed STS GetCallerIdentity proof`)
	reGwSTSHost   = lazyre.New(`^the proof is signed for|^the proof is scoped to region|^the proof's path`)
	// frame (edge policies)
	reGwCORSOrigin = lazyre.New(`^cors: origin (\S+) is not allowed`)
	reGwCORSOther  = lazyre.New(`^cors: (.*)`)
	reGwTooLarge   = lazyre.New(`^request body (?:of (\d+) bytes )?is larger than the limit of (.+)`)
	reGwRate       = lazyre.New(`^rate limit of (.+) exceeded`)
	reGwUpstream   = lazyre.New(`^upstream (\S+) (refused the connection|did not answer within \S+|failed)`)
	reGwBusy       = lazyre.New(`^origin is at capacity`)
	reGwNoRoute    = lazyre.New(`^no route for (\S+)`)
	reGwNotImpl    = lazyre.New(`^auth kind (\S+) not implemented yet`)
)

// gateway explains the mock gateway's refusal reason.
func (d *diag) gateway() {
	g := d.resp.gw
	if g == nil {
		return
	}
	reason := g.Reason
	if reason == "" {
		// explain: false (or a production-like environment): status only.
		d.add("gateway-quiet", scorePossible, Finding{
			Cause: fmt.Sprintf("the gateway refused the request (%d %s) without a reason: the route has explain: false", d.r.Status, g.Error),
			Fix:   "run the gateway without `--env quiet` (explain: true) to see the reason, or check its request log (/_mock/requests)",
		})
		return
	}
	how := "gateway: " + reason
	switch {
	// ---- sigv4 ----
	case reGwRegion.MatchString(reason):
		m := reGwRegion.FindStringSubmatch(reason)
		d.regionFinding(m[1], m[2], scoreStated, how)
	case reGwService.MatchString(reason):
		m := reGwService.FindStringSubmatch(reason)
		d.serviceFinding(m[1], m[2], scoreStated, how)
	case reGwScopeDate.MatchString(reason):
		d.add("scope-date", scoreStated, Finding{
			Cause: "credential scope date does not match X-Amz-Date: " + reason,
			Fix:   "sign once with one timestamp: do not pass X-Amz-Date with -H",
		})
	case reGwReqTime.MatchString(reason), reGwPresignExp.MatchString(reason):
		d.timeProblem, d.timeHow = "sigv4", how
		if m := reGwReqTime.FindStringSubmatch(reason); m != nil {
			d.reqTime, _ = time.Parse(time.RFC3339, m[1])
		}
		if reGwPresignExp.MatchString(reason) {
			d.add("presign-expired", scoreStated-5, Finding{
				Cause: "presigned URL expired: " + reason,
				Fix:   "presign again (`gwcurl presign --expires 15m URL`) and use it before it expires",
			})
		}
	case reGwUnsigned.MatchString(reason):
		svc := reGwUnsigned.FindStringSubmatch(reason)[1]
		d.add("payload", scoreStated, Finding{
			Cause:  "unsigned payload: service " + svc + " refuses UNSIGNED-PAYLOAD; the body's SHA-256 must be signed",
			Fix:    "drop --unsigned-payload (and auth.unsigned_payload) so gwcurl signs the body's hash",
			Detail: []string{how},
		})
	case reGwPayload.MatchString(reason):
		d.add("payload", scoreStated, Finding{
			Cause:  "payload hash mismatch: the body that arrived is not the one that was hashed and signed",
			Fix:    "something changed the body after signing (a proxy re-encoding it, a retried stream): sign the exact bytes sent",
			Detail: []string{how},
		})
	case reGwUnknownKey.MatchString(reason):
		d.unknownKey(reGwUnknownKey.FindStringSubmatch(reason)[1], scoreStated, how)
	case reGwToken.MatchString(reason):
		d.add("session-token", scoreStated, Finding{
			Cause: "session token: " + reason,
			Fix:   "send the access key, secret and session token of one credential set (temporary ASIA… keys need X-Amz-Security-Token; long-term AKIA… keys must not have one)",
		})
	case reason == "signature mismatch":
		d.signatureMismatch(g.detail("canonical_request"), g.detail("string_to_sign"), "the gateway")
	case reGwNoSigV4.MatchString(reason):
		d.add("unsigned", scoreStated, Finding{
			Cause: "no SigV4 signature: the route requires AWS SigV4 and the request carried none",
			Fix:   "use a sigv4 profile (`gwcurl -p demo-sigv4 ...`) or `--auth sigv4` with AWS credentials",
		})
	case reGwNotSigned.MatchString(reason):
		d.add("signed-headers", scoreStated, Finding{
			Cause: "signed headers: " + reason,
			Fix:   "a header was added or removed after signing (a proxy, or -H after a signed copy): let gwcurl sign the final request",
		})
	case reGwNotSigV4.MatchString(reason):
		d.add("unsigned", scoreStated, Finding{
			Cause: "wrong credential type: the route requires AWS SigV4 but the Authorization header is something else",
			Fix:   "use --auth sigv4 (or a sigv4 profile) for this route",
		})

	// ---- google_id / jwt ----
	case reGwNoGoogle.MatchString(reason):
		d.add("no-token", scoreStated, Finding{
			Cause: "missing token: " + reason,
			Fix:   "use a google profile (`gwcurl -p demo-google ...`) or `--auth google`; the token goes in Authorization: Bearer",
		})
	case reGwAud.MatchString(reason):
		m := reGwAud.FindStringSubmatch(reason)
		d.audienceFinding(m[1], m[2], scoreStated)
	case reGwIss.MatchString(reason):
		m := reGwIss.FindStringSubmatch(reason)
		d.add("issuer", scoreStated, Finding{
			Cause: fmt.Sprintf("issuer: the token is from %q, the service accepts %s", m[2], m[1]),
			Fix:   "get the token from the issuer the service trusts (another environment's or provider's token will not do)",
		})
	case reGwExpired.MatchString(reason):
		m := reGwExpired.FindStringSubmatch(reason)
		exp, _ := time.Parse(time.RFC3339, m[1])
		now, _ := time.Parse(time.RFC3339, m[2])
		if ago, err := time.ParseDuration(m[3]); err == nil && now.IsZero() && !exp.IsZero() {
			now = exp.Add(ago)
		}
		d.serverNow = now
		d.expiredFinding(exp, now, scoreStated, "gateway time")
	case reGwFuture.MatchString(reason), reGwNbf.MatchString(reason):
		claim, m := "iat", reGwFuture.FindStringSubmatch(reason)
		at, now := time.Time{}, time.Time{}
		if m != nil {
			at, _ = time.Parse(time.RFC3339, m[1]+m[3])
			now, _ = time.Parse(time.RFC3339, m[2])
		} else {
			m = reGwNbf.FindStringSubmatch(reason)
			claim = "nbf"
			at, _ = time.Parse(time.RFC3339, m[1])
			now, _ = time.Parse(time.RFC3339, m[2])
		}
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
	case reGwNoBearer.MatchString(reason):
		d.add("no-token", scoreStated, Finding{
			Cause: "missing token: no bearer token in the " + reGwNoBearer.FindStringSubmatch(reason)[1] + " header",
			Fix:   refreshFix(d.s.AuthKind) + " (or use a profile whose auth kind sends a token)",
		})
	case reGwTokenUse.MatchString(reason):
		m := reGwTokenUse.FindStringSubmatch(reason)
		d.add("token-use", scoreStated, Finding{
			Cause: "wrong token type: the route wants a Cognito " + m[1] + " token, the request carried " + m[2],
			Fix:   "send the " + m[1] + " token: auth.use_token: " + m[1] + " in the profile",
		})
	case reGwClientID.MatchString(reason):
		m := reGwClientID.FindStringSubmatch(reason)
		d.audienceFinding(m[1], m[2], scoreStated)
	case reGwScope.MatchString(reason):
		d.add("scope", scoreStated, Finding{
			Cause: "insufficient scope: the token lacks scope " + reGwScope.FindStringSubmatch(reason)[1],
			Fix:   "log in asking for it: add it to auth.scopes and run `gwcurl login -p PROFILE`",
		})
	case reGwJWTKey.MatchString(reason):
		m := reGwJWTKey.FindStringSubmatch(reason)
		d.add("token-key", scoreStated, Finding{
			Cause: "token signature invalid: not signed by a key of " + m[1] + " (kid " + fmt.Sprintf("%q", m[2]) + ")",
			Fix:   "the token comes from another issuer or an earlier gateway run (the mock's keys are new each start): log in again (`gwcurl login -p PROFILE`)",
		})
	case reGwKid.MatchString(reason):
		d.add("token-key", scoreStated, Finding{
			Cause: "unknown signing key: the token was signed with key " + fmt.Sprintf("%q", reGwKid.FindStringSubmatch(reason)[1]) + ", which this server does not know",
			Fix:   "the token comes from another issuer or an earlier gateway run (the mock's keys are new each start): mint a fresh one (`gwcurl logout -p PROFILE`, then retry)",
		})
	case reGwTokSig.MatchString(reason):
		d.add("token-key", scoreStated, Finding{
			Cause: "token signature invalid: the token was altered or signed by someone else",
			Fix:   "mint a fresh token from the real issuer; never edit a token",
		})
	case reGwEmail.MatchString(reason):
		d.add("principal", scoreStated, Finding{
			Cause: "principal not allowed: " + reason,
			Fix:   "call with an identity on the route's allowed list (another service account or user), or add it to the route",
		})
	case reGwMalformed.MatchString(reason):
		d.add("token", scoreStated, Finding{
			Cause: "malformed token: " + reason,
			Fix:   "send the raw token (no quotes or spaces), as `gwcurl token -p PROFILE` prints it",
		})

	// ---- cf_access ----
	case reGwCFMissing.MatchString(reason):
		d.cfMissing(g.detail("missing"), scoreStated)
	case reGwCFToken.MatchString(reason):
		d.cfTokenError(reGwCFToken.FindStringSubmatch(reason)[1], scoreStated)
	case reGwCFClientID.MatchString(reason):
		d.add("cf-token", scoreStated, Finding{
			Cause: "unknown CF Access service token: client id " + fmt.Sprintf("%q", reGwCFClientID.FindStringSubmatch(reason)[1]) + " is not a service token of this application",
			Fix:   "check --cf-client-id / auth.client_id (and that the Access policy has a Service Auth rule for the token)",
		})
	case reGwCFSecret.MatchString(reason):
		d.add("cf-token", scoreStated, Finding{
			Cause: "wrong CF Access client secret for service token " + reGwCFSecret.FindStringSubmatch(reason)[1],
			Fix:   "set the right secret in CF_ACCESS_CLIENT_SECRET or auth.client_secret (it may have been rotated)",
		})

	// ---- sts_identity ----
	case d.stsReason(reason):

	// ---- the frame ----
	case reGwCORSOrigin.MatchString(reason):
		d.corsFinding(reGwCORSOrigin.FindStringSubmatch(reason)[1], scoreStated, how)
	case reGwCORSOther.MatchString(reason):
		d.add("cors", scoreStated, Finding{
			Cause: "CORS: " + reGwCORSOther.FindStringSubmatch(reason)[1],
			Fix:   "a browser's preflight must name an allowed origin, method and headers: see the route's cors settings (allow_origins, allow_methods, allow_headers)",
		})
	case reGwTooLarge.MatchString(reason):
		m := reGwTooLarge.FindStringSubmatch(reason)
		cause := "body too large: the limit is " + m[2]
		if m[1] != "" {
			cause = "body too large: " + m[1] + " bytes, the limit is " + m[2]
		}
		d.add("too-large", scoreStated, Finding{Cause: cause, Fix: "send a smaller body (or raise body_limit in the gateway config)"})
	case reGwRate.MatchString(reason):
		d.rateLimited("gateway: "+reason, scoreStated)
	case reGwUpstream.MatchString(reason):
		m := reGwUpstream.FindStringSubmatch(reason)
		d.add("upstream", scoreStated, Finding{
			Cause: "upstream down: the gateway accepted the request but the origin " + m[1] + " " + m[2],
			Fix:   "the problem is behind the gateway, not your credentials: start or fix the origin (the route's upstream)",
		})
	case reGwBusy.MatchString(reason):
		d.rateLimited("gateway: "+reason, scoreStated)
	case reGwNoRoute.MatchString(reason):
		d.add("no-route", scoreStated, Finding{
			Cause: "no route: the gateway has no route for " + reGwNoRoute.FindStringSubmatch(reason)[1],
			Fix:   "check the URL or the profile's base_url (the gateway's index page at / lists its routes)",
		})
	case reGwNotImpl.MatchString(reason):
		d.add("not-implemented", scoreStated, Finding{
			Cause: "the gateway cannot verify auth kind " + reGwNotImpl.FindStringSubmatch(reason)[1] + " yet",
			Fix:   "use a gateway build with that verifier, or another route",
		})
	default:
		d.add("gateway", scoreLikely, Finding{
			Cause: "gateway: " + reason,
			Fix:   gatewayDefaultFix(g),
		})
	}
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

// stsReason handles the sts_identity verifier's reasons: an ARN refused by
// the route's allowlist, a server id mismatch, an expired proof.
func (d *diag) stsReason(reason string) bool {
	arn := reARN.FindString(reason)
	switch {
	case reGwSTSRelay.MatchString(reason):
		m := reGwSTSRelay.FindStringSubmatch(reason)
		d.awsError(&awsError{Format: "query-xml", Code: m[1], Message: m[2], Fields: map[string]string{}})
	case reGwProofExp.MatchString(reason), reGwProofTime.MatchString(reason):
		d.timeProblem, d.timeHow = "sigv4", "gateway: "+reason
		if m := reGwProofTime.FindStringSubmatch(reason); m != nil {
			d.reqTime, _ = time.Parse(time.RFC3339, m[1])
		}
		if reGwProofExp.MatchString(reason) {
			d.add("identity-expired", scoreStated-5, Finding{
				Cause: "identity proof expired: " + reason,
				Fix:   "gwcurl signs a fresh proof per request: check this machine's clock; a copied identity header is honoured 15 minutes",
			})
		}
	case reGwNoProof.MatchString(reason):
		d.add("no-identity", scoreStated, Finding{
			Cause: "missing STS identity: no " + reGwNoProof.FindStringSubmatch(reason)[1] + " header was sent",
			Fix:   "use an sts-identity profile (`gwcurl -p demo-sts ...`) or --auth sts-identity; --identity-header must name the route's header",
		})
	case reGwSTSHost.MatchString(reason):
		d.add("sts-endpoint", scoreStated, Finding{
			Cause: "STS endpoint: " + reason,
			Fix:   "sign the proof for the STS endpoint the route trusts (auth.sts_endpoint, --region)",
		})
	case arn != "" && reGwAllowlist.MatchString(reason):
		d.allowlistFinding(arn, "", scoreStated, "gateway: "+reason)
	case reGwServerID.MatchString(reason) && d.s.AuthKind == "sts-identity":
		d.add("server-id", scoreStated, Finding{
			Cause: "server id: " + reason,
			Fix:   "sign the identity for this gateway: --identity-server-id VALUE (or auth.server_id) with the value the gateway expects",
		})
	default:
		return false
	}
	return true
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
