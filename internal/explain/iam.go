package explain

// IAM authorization failures after a valid signature, and refused
// credentials. Message shapes (recorded in testdata/aws/):
//
//   - "User: ARN is not authorized to perform: ACTION on resource: ARN
//     because no identity-based policy allows the ACTION action" (and "no
//     resource-based policy", "no permissions boundary", "with an explicit
//     deny in a service control policy"), from the IAM User Guide,
//     "Troubleshoot access denied error messages"
//     (troubleshoot_access-denied.html); API Gateway answers
//     "User: anonymous is not authorized to perform: execute-api:Invoke on
//     resource: arn:aws:execute-api:REGION:********1234:API/STAGE/METHOD/PATH"
//     for resource policies, masking the account id.
//   - ExpiredToken / ExpiredTokenException ("The security token included in
//     the request is expired") and InvalidClientTokenId /
//     UnrecognizedClientException ("The security token included in the
//     request is invalid"), STS API reference "Common errors".

import (
	"encoding/json"
	"strings"

	"github.com/gwcurl/gwcurl/internal/lazyre"
)

var reAWSNotAuthzFull = lazyre.New(`User: (\S+) is not authorized to perform: (\S+?)(?: on resource: (\S+?))?(?:,? (because .*|with an explicit deny.*))?\.?\s*$`)

// notAuthorized is a parsed "User: … is not authorized to perform: …".
type notAuthorized struct {
	principal, action, resource, why string
}

func parseNotAuthorized(msg string) (notAuthorized, bool) {
	m := reAWSNotAuthzFull.FindStringSubmatch(strings.TrimSpace(firstLine(msg)))
	if m == nil {
		return notAuthorized{}, false
	}
	return notAuthorized{principal: m[1], action: m[2], resource: strings.TrimSuffix(m[3], "."), why: strings.TrimSuffix(m[4], ".")}, true
}

// principalHome says where a principal's permissions live: "role Dev"
// (arn:aws:iam::…:role/Dev) for an assumed-role session, "user alice".
func principalHome(arn string) (what, iamARN string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return "", ""
	}
	partition, service, account, res := parts[1], parts[2], parts[4], parts[5]
	switch {
	case service == "sts" && strings.HasPrefix(res, "assumed-role/"):
		role := strings.Split(strings.TrimPrefix(res, "assumed-role/"), "/")[0]
		return "role " + role, "arn:" + partition + ":iam::" + account + ":role/" + role
	case service == "iam" && strings.HasPrefix(res, "role/"):
		return "role " + res[strings.LastIndexByte(res, '/')+1:], arn
	case service == "iam" && strings.HasPrefix(res, "user/"):
		return "user " + res[strings.LastIndexByte(res, '/')+1:], arn
	}
	return "", ""
}

// policyStatement is the policy statement that allows the action, in three
// short lines of JSON.
func policyStatement(n notAuthorized) []string {
	q := func(v string) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if enc.Encode(v) != nil {
			return `""`
		}
		return strings.TrimSpace(b.String())
	}
	lines := []string{
		`  {"Effect": "Allow", "Action": ` + q(n.action) + `,`,
		`   "Resource": ` + q(orDefault(n.resource, "*")),
	}
	if n.action == "lambda:InvokeFunctionUrl" {
		lines[1] += ","
		lines = append(lines, `   "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}}`)
	} else {
		lines[1] += "}"
	}
	return lines
}

// notAuthorizedFinding names the principal, the action and the resource of
// an IAM refusal and says which policy to change, with the statement.
func (d *diag) notAuthorizedFinding(n notAuthorized, how string) {
	on := ""
	if n.resource != "" {
		on = " on " + n.resource
	}
	cause := "not allowed by IAM: " + n.principal + " may not perform " + n.action + on
	if n.why != "" {
		cause += " (" + n.why + ")"
	}
	home, homeARN := principalHome(n.principal)
	who := orDefault(home, n.principal)
	why := strings.ToLower(n.why)
	var fix string
	var detail []string
	switch {
	case n.principal == "anonymous":
		cause = "not signed: the resource policy allows " + n.action + " only to signed principals, and the request came as anonymous" + on
		fix = "sign the request: --auth sigv4 --service execute-api (or a sigv4 profile)"
	case strings.Contains(why, "explicit deny"):
		where := strings.TrimPrefix(strings.TrimPrefix(why, "with an explicit deny"), " in ")
		if where == "" && strings.HasPrefix(n.action, "execute-api:") {
			where = "the API's resource policy"
		}
		fix = "an explicit Deny (" + orDefault(where, "in some policy") + ") wins over every Allow: whoever owns that policy must exempt " + who + "; adding an Allow will not help"
		if strings.Contains(where, "service control policy") {
			fix = "a service control policy of the AWS Organization denies it: ask the organization's administrators; no policy in the account can override an SCP"
		}
	case strings.Contains(why, "permissions boundary"):
		fix = "the permissions boundary of " + who + " does not include " + n.action + ": the boundary's owner must add it (an identity policy alone is not enough)"
	case strings.Contains(why, "session policy"):
		fix = "the session policy passed when assuming the role does not allow " + n.action + ": assume the role without it, or include the action"
	case strings.Contains(why, "resource-based policy") && n.action == "lambda:InvokeFunctionUrl":
		fn := n.resource
		if i := strings.LastIndex(fn, ":function:"); i >= 0 {
			fn = fn[i+len(":function:"):]
		}
		fix = "allow the caller in the function's resource policy (needed across accounts): `aws lambda add-permission --function-name " + orDefault(fn, "FUNCTION") +
			" --statement-id gwcurl-invoke --action lambda:InvokeFunctionUrl --principal " + orDefault(homeARN, n.principal) + " --function-url-auth-type AWS_IAM`"
	case strings.Contains(why, "resource-based policy"):
		fix = "allow " + orDefault(homeARN, n.principal) + " in the resource's policy (needed across accounts), or call as a principal it allows"
	default:
		fix = "attach a statement allowing " + n.action + " to the identity policy of " + who + " (below), or use an allowed principal (--aws-profile)"
	}
	if n.principal != "anonymous" && !strings.Contains(why, "explicit deny") {
		title := "policy statement that allows it"
		switch {
		case home != "" && strings.Contains(why, "resource-based policy"):
			title += " in the identity policy of " + home + " (across accounts both policies must allow it)"
		case home != "":
			title += " (for the identity policy of " + home + ")"
		}
		detail = append(detail, title+":")
		detail = append(detail, policyStatement(n)...)
		if strings.Contains(n.resource, "*****") {
			detail = append(detail, "  (API Gateway masks the account id in the resource: use your account id)")
		}
	}
	if how != "" {
		detail = append(detail, "server: "+how)
	}
	d.add("allowlist", scoreStated, Finding{Cause: cause, Fix: fix, Detail: detail})
}

// optInRegions are the regions an account must enable: session tokens from
// the global STS endpoint (version 1) are not valid there (IAM User Guide,
// "Managing AWS STS in an AWS Region").
var optInRegions = map[string]bool{
	"af-south-1": true, "ap-east-1": true, "ap-south-2": true, "ap-southeast-3": true, "ap-southeast-4": true,
	"ap-southeast-5": true, "ap-southeast-7": true, "ca-west-1": true, "eu-central-2": true, "eu-south-1": true,
	"eu-south-2": true, "il-central-1": true, "me-central-1": true, "me-south-1": true, "mx-central-1": true,
}

// sentSessionToken reports whether the request carried a session token
// (header or presigned query) and whether it was signed.
func (d *diag) sentSessionToken() (sent, signed bool) {
	a := d.sigv4Auth()
	if d.s.Header.Get("X-Amz-Security-Token") != "" {
		sent = true
		if a != nil {
			for _, h := range a.signedHeaders {
				if h == "x-amz-security-token" {
					signed = true
				}
			}
		}
		return sent, signed
	}
	if a != nil && a.presigned && strings.Contains(strings.ToLower(d.s.URL), "x-amz-security-token=") {
		return true, true // query parameters are always signed
	}
	return false, false
}

// invalidCredentials explains InvalidClientTokenId / UnrecognizedClient:
// the access key or session token is not valid where it was sent.
func (d *diag) invalidCredentials(how string) {
	a := d.sigv4Auth()
	tok, signed := d.sentSessionToken()
	key := ""
	if a != nil {
		key = a.accessKey
	}
	region := d.signedRegion()
	if _, r := d.hostExpects(); r != "" {
		region = r
	}
	f := Finding{Detail: []string{how}}
	switch {
	case strings.HasPrefix(key, "ASIA") && !tok:
		f.Cause = "session token missing: " + key + " is a temporary key (ASIA…) and no X-Amz-Security-Token was sent, so AWS does not know the key without its token"
		f.Fix = "send the whole credential set: set AWS_SESSION_TOKEN with the key (or the profile's session token), or refresh it (`aws sso login`, assume the role again)"
	case strings.HasPrefix(key, "AKIA") && tok:
		f.Cause = "session token with a long-term key: " + key + " is an IAM user key (AKIA…), but an X-Amz-Security-Token was sent too; the token belongs to other credentials"
		f.Fix = "unset AWS_SESSION_TOKEN (a leftover from an earlier session), or use the temporary key the token belongs to"
	case tok && !signed && a != nil && !a.presigned:
		f.Cause = "unsigned session token: X-Amz-Security-Token was sent but is not in SignedHeaders (it was added after signing, or a proxy re-added it)"
		f.Fix = "let gwcurl add the session token before signing (AWS_SESSION_TOKEN or the profile's session token), never with -H"
	case optInRegions[region] && tok:
		f.Cause = "session token not valid in " + region + ": it is an opt-in region, and session tokens from the global STS endpoint (sts.amazonaws.com, version 1) are valid only in regions enabled by default"
		f.Fix = "get the credentials from a regional STS endpoint (AWS_STS_REGIONAL_ENDPOINTS=regional, or sts." + region + ".amazonaws.com), or make the global endpoint issue version 2 tokens (IAM account settings)"
	case strings.HasPrefix(region, "cn-") || strings.HasPrefix(region, "us-gov-"):
		f.Cause = "invalid AWS credentials for " + region + ": keys and session tokens are valid only in their own partition (aws, aws-cn, aws-us-gov)"
		f.Fix = "use credentials from an account in the " + region + " partition (--aws-profile)"
	default:
		f.Cause = "invalid AWS credentials: the access key or session token is not valid here"
		f.Fix = "check the credential set (a session token from another key, a key from another partition, or a region not enabled for the account); `gwcurl whoami -p PROFILE` tests it against STS"
	}
	d.add("session-token", scoreStated, f)
}
