package explain

// AWS's error answers. Formats (recorded examples in testdata/aws/):
//
//   - S3 REST XML errors, documented in the S3 API reference "Error
//     responses" (ErrorResponses.html) and "Troubleshooting signature
//     mismatch": SignatureDoesNotMatch carries AWSAccessKeyId, StringToSign,
//     SignatureProvided, StringToSignBytes, CanonicalRequest and
//     CanonicalRequestBytes; RequestTimeTooSkewed carries RequestTime,
//     ServerTime and MaxAllowedSkewMilliseconds; AuthorizationHeaderMalformed
//     carries Region (the expected one); ExpiredToken echoes the token as
//     Token-0.
//   - Query-protocol XML (STS, IAM): <ErrorResponse><Error><Type>Sender
//     </Type><Code>…</Code><Message>…</Message></Error>…</ErrorResponse>.
//   - API Gateway and Lambda function URLs answer JSON {"message": "…"} (or
//     "Message") with x-amzn-ErrorType; API Gateway's signature mismatch
//     message includes "The Canonical String for this request should have
//     been '…'" and "The String-to-Sign should have been '…'".

import (
	"github.com/gwcurl/gwcurl/internal/lazyre"
	"net/url"
	"strconv"
	"strings"
	"time"
)

var (
	reAWSSigMismatch = lazyre.New(`(?i)signature we calculated does not match|SignatureDoesNotMatch|InvalidSignature`)
	reAPIGWCanonical = lazyre.New(`(?s)The Canonical String for this request should have been\s*'(.*?)'\s*The String-to-Sign should have been\s*'(.*?)'`)
	reAWSRegionScope = lazyre.New(`Credential should be scoped to a valid region(?:, not '([^']*)')?`)
	reAWSServScope   = lazyre.New(`Credential should be scoped to correct service: '([^']*)'`)
	reS3RegionWrong  = lazyre.New(`the region '([^']*)' is wrong; expecting '([^']*)'`)
	reAWSNotAuthz    = lazyre.New(`User: (\S+) is not authorized to perform: (\S+?)(?: on resource: (\S+?))?(?: because .*?)?(?:\s|$|,)`)
	reAWSNoAuthToken = lazyre.New(`^Missing Authentication Token`)
	reAWSTokExpired  = lazyre.New(`(?i)security token included in the request is expired|provided token has expired|ExpiredToken`)
	reAWSTokInvalid  = lazyre.New(`(?i)security token included in the request is invalid|UnrecognizedClient|InvalidClientTokenId|InvalidToken`)
	reAWSKeyUnknown  = lazyre.New(`(?i)Access Key Id you provided does not exist|InvalidAccessKeyId`)
	reAWSNotSigV4    = lazyre.New(`Authorization header requires '(Credential|Signature|SignedHeaders)' parameter|not a valid key=value pair|IncompleteSignature`)
	reAWSFuncURL     = lazyre.New(`(?i)Function URL authorization`)
	reAWSDateScope   = lazyre.New(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date`)
)

// aws explains an AWS error body.
func (d *diag) aws() {
	if e := d.resp.aws; e != nil {
		d.awsError(e)
	}
}

// awsError explains one AWS error (also one the mock gateway relays from
// its mock STS).
func (d *diag) awsError(e *awsError) {
	msg := e.Message
	how := strings.TrimSpace(strings.TrimPrefix(e.Code+": "+firstLine(msg), ": "))
	switch {
	case e.Code == "RequestTimeTooSkewed" || reSigExpired.MatchString(msg) || reSigNotYet.MatchString(msg):
		d.awsTimeError(e, how)
	case e.Code == "AuthorizationHeaderMalformed" || reAWSRegionScope.MatchString(msg) || reS3RegionWrong.MatchString(msg):
		d.awsScopeError(e, how)
	case reAWSServScope.MatchString(msg):
		d.serviceFinding("", reAWSServScope.FindStringSubmatch(msg)[1], scoreStated, how)
	case e.Code == "SignatureDoesNotMatch" || e.Code == "InvalidSignatureException" || reAWSSigMismatch.MatchString(msg):
		cr, sts := e.Fields["CanonicalRequest"], e.Fields["StringToSign"]
		source := "AWS"
		if e.Format == "s3-xml" {
			source = "S3"
		}
		if m := reAPIGWCanonical.FindStringSubmatch(msg); m != nil {
			cr, sts, source = m[1], m[2], "API Gateway"
		}
		d.signatureMismatch(cr, sts, source)
	case e.Code == "XAmzContentSHA256Mismatch":
		d.add("payload", scoreStated, Finding{
			Cause:  "payload hash mismatch: x-amz-content-sha256 does not match the body S3 received",
			Fix:    "send the body that was hashed (nothing may re-encode it after signing)",
			Detail: []string{how},
		})
	case reAWSTokExpired.MatchString(msg + " " + e.Code):
		d.add("session-token", scoreStated, Finding{
			Cause:  "expired AWS session: the temporary credentials' session token has expired",
			Fix:    "refresh the credentials (`aws sso login --profile P`, assume the role again, or renew AWS_SESSION_TOKEN) and retry",
			Detail: []string{how},
		})
	case reAWSKeyUnknown.MatchString(msg + " " + e.Code):
		key := strings.TrimSpace(e.Fields["AWSAccessKeyId"])
		if key == "" {
			if a := d.sigv4Auth(); a != nil {
				key = a.accessKey
			}
		}
		if key == "" {
			key = "the access key"
		}
		d.unknownKey(key, scoreStated, how)
	case reAWSTokInvalid.MatchString(msg + " " + e.Code):
		d.invalidCredentials(how)
	default:
		d.awsAccessError(e, how)
	}
}

// awsTimeError: the request's time is outside the server's window.
func (d *diag) awsTimeError(e *awsError, how string) {
	msg := e.Message
	d.timeProblem = "sigv4"
	if t, err := time.Parse(awsv4TimeFormat, strings.TrimSpace(e.Fields["RequestTime"])); err == nil {
		d.reqTime = t
	}
	for _, re := range []*lazyre.Regexp{reSigExpired, reSigNotYet} {
		if m := re.FindStringSubmatch(msg); m != nil {
			d.reqTime, _ = time.Parse(awsv4TimeFormat, m[1])
		}
	}
	if e.Code == "RequestTimeTooSkewed" {
		if ms, err := strconv.Atoi(strings.TrimSpace(e.Fields["MaxAllowedSkewMilliseconds"])); err == nil {
			how += " (max " + fmtDur(time.Duration(ms)*time.Millisecond) + ")"
		}
	}
	d.timeHow = how
}

// awsScopeError: the credential scope names the wrong region, service or
// date, or the Authorization header is malformed.
func (d *diag) awsScopeError(e *awsError, how string) {
	msg := e.Message
	signed, expected := "", strings.TrimSpace(e.Fields["Region"])
	if m := reS3RegionWrong.FindStringSubmatch(msg); m != nil {
		signed, expected = m[1], m[2]
	}
	if m := reAWSRegionScope.FindStringSubmatch(msg); m != nil {
		signed = m[1]
	}
	switch {
	case reAWSServScope.MatchString(msg):
		d.serviceFinding("", reAWSServScope.FindStringSubmatch(msg)[1], scoreStated, how)
	case reAWSDateScope.MatchString(msg):
		d.add("scope-date", scoreStated, Finding{Cause: "credential scope date does not match X-Amz-Date", Fix: "do not pass X-Amz-Date with -H: let gwcurl sign", Detail: []string{how}})
	case expected != "" || signed != "" || reAWSRegionScope.MatchString(msg):
		d.regionFinding(signed, expected, scoreStated, how)
	default:
		d.add("malformed", scoreStated, Finding{Cause: "malformed Authorization header: " + firstLine(msg), Fix: "let gwcurl sign (no -H Authorization)"})
	}
}

// awsAccessError explains the refusals of a request whose signature was
// not the problem (or that said nothing more): authorization, missing
// authentication, routes.
func (d *diag) awsAccessError(e *awsError, how string) {
	msg := e.Message
	switch {
	case reAWSNotAuthz.MatchString(msg):
		if n, ok := parseNotAuthorized(msg); ok {
			d.notAuthorizedFinding(n, e.Code)
			break
		}
		m := reAWSNotAuthz.FindStringSubmatch(msg)
		d.allowlistFinding(m[1], m[2], scoreStated, how)
	case reAWSNoAuthToken.MatchString(msg):
		d.missingAuthToken()
	case msg == "Not Found" && d.r.Status == 404 && e.Format == "json":
		// An HTTP API (API Gateway v2) with no route for the method and path.
		f := Finding{
			Cause:  "API Gateway has no route for this method and path" + d.apigwWhere() + ": HTTP APIs answer 404 {\"message\":\"Not Found\"} before any authorization",
			Fix:    "check the method and the path against the API's routes; with the $default stage the URL has no stage segment, with a named stage it starts with /STAGE",
			Detail: d.apigwDetail(),
		}
		if d.r.Header.Get("X-Amz-Apigw-Id") == "" && d.r.Header.Get("Apigw-Requestid") == "" {
			f.Cause = "not found: the server has nothing at this path" + d.apigwWhere()
			f.Fix = "check the URL's path and method"
		}
		d.add("no-route", scoreStated, f)
	case reAWSNotSigV4.MatchString(msg + " " + e.Code):
		d.add("unsigned", scoreStated, Finding{
			Cause:  "not SigV4: the endpoint uses AWS IAM auth but the Authorization header is not a SigV4 signature",
			Fix:    "use --auth sigv4 (a bearer or other token in Authorization does not work with IAM auth)",
			Detail: []string{how},
		})
	case reAWSFuncURL.MatchString(msg):
		// Lambda function URL's generic refusal.
		if d.sigv4Auth() == nil {
			d.add("unsigned", scoreStated, Finding{
				Cause: "the function URL requires AWS_IAM auth and the request is not SigV4-signed",
				Fix:   "sign with --auth sigv4 (service lambda, the URL's region)",
			})
		} else {
			d.add("forbidden", scoreLikely, Finding{
				Cause: "the function URL refused the signed request without a reason: the caller may lack lambda:InvokeFunctionUrl, or the signature does not match",
				Fix:   "check the principal's policy (and the function's resource policy for other accounts); run with -v to see the canonical request",
			})
		}
	case e.Code == "AccessDenied" || e.Code == "AccessDeniedException" || e.Message == "Forbidden" || strings.HasPrefix(e.Message, "Forbidden"):
		d.add("forbidden", scoreLikely, Finding{
			Cause:  "access denied by policy: the signature was accepted but the principal may not do this",
			Fix:    "check the identity policy, the resource/bucket policy and any SCP; `gwcurl whoami -p PROFILE` shows who you are",
			Detail: []string{how},
		})
	default:
		if msg != "" || e.Code != "" {
			d.add("aws", scoreLikely-10, Finding{Cause: "AWS: " + how, Fix: "see the AWS error code's documentation; `gwcurl -v` shows what was signed"})
		}
	}
}

// missingAuthToken explains API Gateway's "Missing Authentication Token", its
// answer both for an unsigned request to an IAM-protected method and for a
// path, method or stage that does not exist (API Gateway Developer Guide,
// "Troubleshoot REST API errors"; the error type is
// MissingAuthenticationTokenException). It is most often a wrong URL.
func (d *diag) missingAuthToken() {
	where := d.apigwWhere()
	wrongURL := Finding{
		Cause:  "API Gateway has no such resource: \"Missing Authentication Token\" is also its answer for a path, method or stage that does not exist (the most common cause)" + where,
		Fix:    "check the URL: https://API-ID.execute-api.REGION.amazonaws.com/STAGE/PATH (the stage, e.g. /prod, comes first; a custom domain maps its own base path), and that the method exists for that path",
		Detail: d.apigwDetail(),
	}
	unsigned := Finding{
		Cause: "API Gateway got no SigV4 signature: the method uses AWS_IAM authorization and the request was not signed",
		Fix:   "sign the request: --auth sigv4 --service execute-api (or a sigv4 profile)",
	}
	switch {
	case !d.sentKnown: // pasted: both are possible
		d.add("no-route", scoreStated, wrongURL)
		unsigned.Cause += " (if the URL is right)"
		d.add("unsigned", scoreLikely, unsigned)
	case d.sigv4Auth() == nil:
		d.add("unsigned", scoreStated, unsigned)
		d.add("no-route", scoreLikely, wrongURL)
	default:
		wrongURL.Cause = "API Gateway has no such resource: the request was signed, so \"Missing Authentication Token\" means the path, method or stage does not exist" + where
		d.add("no-route", scoreStated, wrongURL)
	}
}

// apigwWhere is " (GET /nope in stage prod)" for an execute-api URL.
func (d *diag) apigwWhere() string {
	u, err := url.Parse(d.s.URL)
	if err != nil || u.Host == "" {
		return ""
	}
	method := orDefault(d.s.Method, "GET")
	if s, _ := d.hostExpects(); s == "execute-api" {
		stage, rest, _ := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
		if stage == "" {
			return " (the URL has no stage: " + method + " " + u.Host + u.EscapedPath() + ")"
		}
		return " (" + method + " /" + rest + " in stage " + stage + ")"
	}
	return " (" + method + " " + u.EscapedPath() + " on " + u.Host + ")"
}

func (d *diag) apigwDetail() []string {
	var out []string
	if id := d.r.Header.Get("X-Amz-Apigw-Id"); id != "" {
		out = append(out, "x-amz-apigw-id "+id+" (API Gateway answered, so the host is right)")
	}
	if id := d.r.Header.Get("X-Amzn-Requestid"); id != "" {
		out = append(out, "x-amzn-RequestId "+id)
	}
	return out
}
