package sigv4verify

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/strictyaml"
)

// configKeys are the keys of a sigv4 route's auth block.
var configKeys = []string{"kind", "service", "region", "allow_unsigned_payload", "max_skew", "sigv4a"}

// Factory builds a route's verifier from its auth block:
//
//	auth:
//	  kind: sigv4
//	  service: lambda              # the signing name the scope must carry (required)
//	  region: us-east-1            # required
//	  allow_unsigned_payload: false # never allowed for lambda
//	  max_skew: 5m                 # default 5m
//	  sigv4a: false                # also accept SigV4a whose region set covers region
//
// Keys come from the gateway's aws_keys table (env.AWSKeys), the clock from
// env.Now. Unknown keys and bad values are errors naming the key.
func Factory(node *yaml.Node, env *auth.Env) (auth.Verifier, error) {
	if node == nil || node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("want a mapping {kind: sigv4, service: ..., region: ...}")
	}
	var opts Options
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		switch k.Value {
		case "kind":
			if val.Value != Kind {
				return nil, fmt.Errorf("kind: %q is not %s", val.Value, Kind)
			}
		case "service":
			if err := val.Decode(&opts.Service); err != nil || strings.TrimSpace(opts.Service) == "" {
				return nil, fmt.Errorf("service (line %d): want a signing name such as lambda, execute-api, s3", val.Line)
			}
		case "region":
			if err := val.Decode(&opts.Region); err != nil || strings.TrimSpace(opts.Region) == "" {
				return nil, fmt.Errorf("region (line %d): want a region such as us-east-1", val.Line)
			}
		case "allow_unsigned_payload":
			if err := val.Decode(&opts.AllowUnsignedPayload); err != nil {
				return nil, fmt.Errorf("allow_unsigned_payload (line %d): want true or false", val.Line)
			}
		case "sigv4a":
			if err := val.Decode(&opts.SigV4a); err != nil {
				return nil, fmt.Errorf("sigv4a (line %d): want true or false", val.Line)
			}
		case "max_skew":
			d, err := time.ParseDuration(val.Value)
			if err != nil || d <= 0 || val.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("max_skew (line %d): %q is not a positive duration such as 5m", val.Line, val.Value)
			}
			opts.MaxSkew = d
		default:
			return nil, strictyaml.UnknownKey(k, "kind sigv4", configKeys)
		}
	}
	if opts.Service == "" {
		return nil, fmt.Errorf("service: required (the signing name, e.g. lambda)")
	}
	if opts.Region == "" {
		return nil, fmt.Errorf("region: required (e.g. us-east-1)")
	}
	var keys []auth.AWSKey
	if env != nil {
		opts.Now = env.Now
		keys = env.AWSKeys
	}
	return New(opts, keys)
}
