package stsverify

import (
	"strings"

	"github.com/gwcurl/gwcurl/internal/lazyre"
)

// The real STS hosts a route may be configured to trust, per partition
// (docs/auth/sts-identity.md, "How a back end verifies a proof"): regional, FIPS and dual-stack endpoints, and the global
// sts.amazonaws.com in the aws partition only. This is a fixed list: a
// client never chooses where the gateway sends its proof.
var stsHosts = map[string][]*lazyre.Regexp{
	"aws": {
		lazyre.New(`^sts\.amazonaws\.com$`),
		lazyre.New(`^sts(-fips)?\.((?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]+)\.amazonaws\.com$`),
		lazyre.New(`^sts(-fips)?\.((?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]+)\.api\.aws$`),
	},
	"aws-cn": {
		lazyre.New(`^sts\.(cn-[a-z]+-[0-9]+)\.amazonaws\.com\.cn$`),
	},
	"aws-us-gov": {
		lazyre.New(`^sts(-fips)?\.(us-gov-[a-z]+-[0-9]+)\.amazonaws\.com$`),
		lazyre.New(`^sts(-fips)?\.(us-gov-[a-z]+-[0-9]+)\.api\.aws$`),
	},
}

// STSHost reports whether host (no port) is a real STS endpoint, and which
// partition and signing region it belongs to.
func STSHost(host string) (partition, region string, ok bool) {
	h := strings.ToLower(host)
	if h == "sts.amazonaws.com" {
		return "aws", "us-east-1", true
	}
	for p, res := range stsHosts {
		for _, re := range res {
			if m := re.FindStringSubmatch(h); m != nil {
				return p, m[len(m)-1], true
			}
		}
	}
	return "", "", false
}
