package awsv4

import (
	"net"
	"strings"

	"github.com/gwcurl/gwcurl/internal/lazyre"
)

// regionRE matches AWS region names (us-east-1, us-gov-west-1, cn-north-1, eu-central-2, ...).
var regionRE = lazyre.New(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// IsRegion reports whether s has the form of an AWS region name
// (us-east-1, us-gov-west-1, cn-north-1, ...).
func IsRegion(s string) bool { return regionRE.MatchString(s) }

// signingNames maps endpoint prefixes whose SigV4 signing name differs from
// the host label. Only well-known, stable cases: anything else falls back to
// the host label, and --service overrides.
var signingNames = map[string]string{
	"bedrock-runtime":       "bedrock",
	"bedrock-agent-runtime": "bedrock",
	"email":                 "ses",
	"runtime.sagemaker":     "sagemaker",
	"runtime.lex":           "lex",
	"data.iot":              "iotdata",
	"streams.dynamodb":      "dynamodb",
	"appsync-api":           "appsync", // <api-id>.appsync-api.<region>.amazonaws.com
	"appsync-realtime-api":  "appsync", // its WebSocket (real-time) endpoint
}

// PayloadRule says how a service treats the payload hash of a signed
// request (docs/auth/sigv4.md, "Service and region").
type PayloadRule int

const (
	// PayloadHash: the body's SHA-256 is signed by default; UNSIGNED-PAYLOAD
	// is accepted when asked for (S3, most services).
	PayloadHash PayloadRule = iota
	// PayloadHashRequired: the body's SHA-256 must be signed;
	// UNSIGNED-PAYLOAD is refused (Lambda, function URLs and the invoke API).
	PayloadHashRequired
	// PayloadHashHeaderRequired: as PayloadHash, and the request must carry
	// x-amz-content-sha256 (OpenSearch Serverless refuses requests without it).
	PayloadHashHeaderRequired
	// PayloadUnsignedRequired: the service does not support payload signing
	// and wants x-amz-content-sha256: UNSIGNED-PAYLOAD (VPC Lattice).
	PayloadUnsignedRequired
)

// String is the rule's name in docs/auth/sigv4.md.
func (r PayloadRule) String() string {
	switch r {
	case PayloadHashRequired:
		return "hash required"
	case PayloadHashHeaderRequired:
		return "hash, header required"
	case PayloadUnsignedRequired:
		return "unsigned"
	}
	return "hash"
}

// PayloadRuleFor returns the payload rule of a signing service.
func PayloadRuleFor(service string) PayloadRule {
	switch service {
	case "lambda":
		return PayloadHashRequired
	case "aoss":
		return PayloadHashHeaderRequired
	case "vpc-lattice-svcs":
		return PayloadUnsignedRequired
	}
	return PayloadHash
}

// InferServiceRegion infers the SigV4 signing service and region from a
// request host (a port is ignored). It recognises:
//
//	<id>.lambda-url.<region>.on.aws                  lambda (China: on.amazonwebservices.com.cn)
//	<svc>.<id>.vpc-lattice-svcs.<region>.on.aws      vpc-lattice-svcs
//	<id>.appsync-api.<region>.amazonaws.com          appsync (and appsync-realtime-api)
//	lambda.<region>.amazonaws.com                    lambda (the invoke API)
//	<id>.execute-api.<region>.amazonaws.com          execute-api
//	s3.amazonaws.com, <bucket>.s3.amazonaws.com       s3, us-east-1
//	[<bucket>.]s3.<region>.amazonaws.com              s3 (also s3-<region>, s3.dualstack.<region>,
//	                                                  s3-fips, s3-accesspoint, s3-control)
//	<domain>.<region>.es.amazonaws.com                es (OpenSearch domains), aoss likewise
//	sts.amazonaws.com                                 sts, us-east-1
//	<service>.<region>.amazonaws.com                  <service> (a few renamed, e.g. bedrock-runtime → bedrock)
//
// and the same under amazonaws.com.cn. Either result is "" when the host does
// not say; the caller then needs --service / --region.
func InferServiceRegion(host string) (service, region string) {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(h, ".")

	for _, suffix := range []string{".on.aws", ".on.amazonwebservices.com.cn"} {
		rest, ok := strings.CutSuffix(h, suffix)
		if !ok {
			continue
		}
		labels := strings.Split(rest, ".")
		n := len(labels)
		if n < 3 || !regionRE.MatchString(labels[n-1]) {
			return "", ""
		}
		switch labels[n-2] {
		case "lambda-url":
			return "lambda", labels[n-1]
		case "vpc-lattice-svcs":
			return "vpc-lattice-svcs", labels[n-1]
		}
		return "", ""
	}

	var rest string
	var ok bool
	if rest, ok = strings.CutSuffix(h, ".amazonaws.com"); !ok {
		if rest, ok = strings.CutSuffix(h, ".amazonaws.com.cn"); !ok {
			return "", ""
		}
	}
	labels := strings.Split(rest, ".")
	n := len(labels)

	// S3: find the last "s3..." label; everything before it is the bucket or
	// access point name (which may itself contain "s3"), what follows it the
	// region.
	for i := n - 1; i >= 0; i-- {
		l := labels[i]
		switch {
		case l == "s3" || l == "s3-fips" || l == "s3-accesspoint" || l == "s3-control" ||
			l == "s3-object-lambda" || l == "s3-outposts":
			svc := "s3"
			if l == "s3-object-lambda" {
				svc = "s3-object-lambda"
			}
			if l == "s3-outposts" {
				svc = "s3-outposts"
			}
			after := labels[i+1:]
			for len(after) > 0 && (after[0] == "dualstack" || after[0] == "fips") {
				after = after[1:]
			}
			switch {
			case len(after) == 0:
				return svc, "us-east-1" // s3.amazonaws.com: the global endpoint
			case regionRE.MatchString(after[0]):
				return svc, after[0]
			}
			return svc, ""
		case l == "s3-external-1":
			return "s3", "us-east-1"
		case strings.HasPrefix(l, "s3-") && regionRE.MatchString(strings.TrimPrefix(l, "s3-")):
			return "s3", strings.TrimPrefix(l, "s3-") // legacy s3-<region>
		}
	}

	switch {
	case n >= 3 && labels[n-2] == "execute-api" && regionRE.MatchString(labels[n-1]):
		return "execute-api", labels[n-1]
	case n >= 3 && (labels[n-1] == "es" || labels[n-1] == "aoss") && regionRE.MatchString(labels[n-2]):
		return labels[n-1], labels[n-2] // <domain>.<region>.es.amazonaws.com
	case n == 1 && labels[0] == "sts":
		return "sts", "us-east-1"
	case n == 1 && labels[0] == "iam":
		return "iam", "us-east-1"
	case n >= 2 && regionRE.MatchString(labels[n-1]):
		prefix := strings.Join(labels[:n-1], ".")
		if s, ok := signingNames[prefix]; ok {
			return s, labels[n-1]
		}
		if n == 2 {
			return prefix, labels[n-1]
		}
		// <something>.<service>.<region>.amazonaws.com (e.g. an account- or
		// resource-specific prefix): the label before the region is the
		// endpoint prefix.
		if s, ok := signingNames[labels[n-2]]; ok {
			return s, labels[n-1]
		}
		return labels[n-2], labels[n-1]
	}
	return "", ""
}
