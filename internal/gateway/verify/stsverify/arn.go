package stsverify

import (
	"fmt"
	"strings"

	"github.com/gwcurl/gwcurl/internal/lazyre"
)

// partitions are the AWS partitions an ARN may name.
var partitions = map[string]bool{
	"aws": true, "aws-cn": true, "aws-us-gov": true, "aws-iso": true, "aws-iso-b": true,
	"aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true,
}

var (
	accountRE = lazyre.New(`^[0-9]{12}$`)
	// IAM names and paths: letters, digits and +=,.@_- (and / between path
	// elements). Session names add nothing else.
	iamNameRE = lazyre.New(`^[A-Za-z0-9+=,.@_-]+$`)
)

// ARN is a parsed caller ARN.
type ARN struct {
	Partition, Service, Account, Resource string
}

// ParseARN parses the ARN of an AWS caller strictly: arn:PARTITION:iam or
// sts, no region, a 12-digit account, and a resource of the forms
// GetCallerIdentity can report (user/…, role/…, root, assumed-role/R/S,
// federated-user/N).
func ParseARN(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ARN{}, fmt.Errorf("%q is not an ARN", shorten(s))
	}
	a := ARN{Partition: parts[1], Service: parts[2], Account: parts[4], Resource: parts[5]}
	switch {
	case !partitions[a.Partition]:
		return ARN{}, fmt.Errorf("ARN %q: unknown partition %q", shorten(s), a.Partition)
	case parts[3] != "":
		return ARN{}, fmt.Errorf("ARN %q: IAM and STS ARNs have no region", shorten(s))
	case !accountRE.MatchString(a.Account):
		return ARN{}, fmt.Errorf("ARN %q: the account must be 12 digits", shorten(s))
	}
	segs := strings.Split(a.Resource, "/")
	for _, seg := range segs[1:] {
		if !iamNameRE.MatchString(seg) {
			return ARN{}, fmt.Errorf("ARN %q: malformed resource %q", shorten(s), shorten(a.Resource))
		}
	}
	switch a.Service {
	case "iam":
		switch {
		case a.Resource == "root":
		case (segs[0] == "user" || segs[0] == "role") && len(segs) >= 2:
		default:
			return ARN{}, fmt.Errorf("ARN %q: want an IAM user, role or root", shorten(s))
		}
	case "sts":
		switch {
		case segs[0] == "assumed-role" && len(segs) == 3:
		case segs[0] == "federated-user" && len(segs) == 2:
		default:
			return ARN{}, fmt.Errorf("ARN %q: want an assumed-role or federated-user ARN", shorten(s))
		}
	default:
		return ARN{}, fmt.Errorf("ARN %q: service must be iam or sts", shorten(s))
	}
	return a, nil
}

func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + "::" + a.Account + ":" + a.Resource
}

// AssumedRole reports the role and session of an assumed-role ARN.
func (a ARN) AssumedRole() (role, session string, ok bool) {
	if a.Service != "sts" || !strings.HasPrefix(a.Resource, "assumed-role/") {
		return "", "", false
	}
	rs := strings.Split(a.Resource, "/")
	return rs[1], rs[2], true
}

// CanonicalARN returns the ARN that allowlists compare: an assumed-role
// session arn:P:sts::A:assumed-role/ROLE/SESSION becomes the role
// arn:P:iam::A:role/ROLE (docs/auth/sts-identity.md, "How a back end verifies a proof"). Assumed-role ARNs carry no role path,
// so the canonical role ARN has none either; the session name, chosen by
// the caller, is dropped. Other ARNs are returned as parsed.
func CanonicalARN(s string) (string, error) {
	a, err := ParseARN(s)
	if err != nil {
		return "", err
	}
	if role, _, ok := a.AssumedRole(); ok {
		return ARN{Partition: a.Partition, Service: "iam", Account: a.Account, Resource: "role/" + role}.String(), nil
	}
	return a.String(), nil
}

// allowlist is a route's `allow:` list: exact canonical ARNs, or prefixes
// written with one trailing '*'.
type allowlist struct {
	exact    map[string]bool
	prefixes []string
}

// newAllowlist checks every entry, refusing entries that can never match
// a canonical ARN (an assumed-role ARN, a role ARN with a path) with a
// message that says what to write instead.
func newAllowlist(entries []string) (*allowlist, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("allow: list at least one ARN (exact, or ending in * such as arn:aws:iam::123456789012:role/*)")
	}
	al := &allowlist{exact: map[string]bool{}}
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if prefix, ok := strings.CutSuffix(e, "*"); ok {
			if err := checkPrefix(prefix); err != nil {
				return nil, fmt.Errorf("allow[%d] %q: %v", i, e, err)
			}
			al.prefixes = append(al.prefixes, prefix)
			continue
		}
		a, err := ParseARN(e)
		if err != nil {
			return nil, fmt.Errorf("allow[%d]: %v", i, err)
		}
		if role, _, ok := a.AssumedRole(); ok {
			return nil, fmt.Errorf("allow[%d] %q: list the role, arn:%s:iam::%s:role/%s: sessions are compared as their role", i, e, a.Partition, a.Account, role)
		}
		if rest, ok := strings.CutPrefix(a.Resource, "role/"); ok && strings.Contains(rest, "/") {
			name := rest[strings.LastIndexByte(rest, '/')+1:]
			return nil, fmt.Errorf("allow[%d] %q: a role ARN with a path never matches, since assumed-role ARNs carry no path: list arn:%s:iam::%s:role/%s", i, e, a.Partition, a.Account, name)
		}
		al.exact[a.String()] = true
	}
	return al, nil
}

// checkPrefix accepts "arn:P:iam::ACCOUNT:" followed by anything without
// '*': a wildcard never spans accounts or partitions.
func checkPrefix(p string) error {
	if strings.Contains(p, "*") {
		return fmt.Errorf("'*' is allowed only once, at the end")
	}
	parts := strings.SplitN(p, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !partitions[parts[1]] || parts[3] != "" || !accountRE.MatchString(parts[4]) {
		return fmt.Errorf("a wildcard must follow a full partition and account, such as arn:aws:iam::123456789012:role/*")
	}
	if parts[2] != "iam" {
		return fmt.Errorf("canonical ARNs are iam ARNs (assumed roles compare as arn:%s:iam::%s:role/NAME): write arn:%s:iam::%s:…*", parts[1], parts[4], parts[1], parts[4])
	}
	if rest, ok := strings.CutPrefix(parts[5], "role/"); ok && strings.Contains(rest, "/") {
		return fmt.Errorf("role paths never match, since assumed-role ARNs carry no path")
	}
	return nil
}

// allows reports whether a canonical ARN is on the list.
func (al *allowlist) allows(canonical string) bool {
	if al.exact[canonical] {
		return true
	}
	for _, p := range al.prefixes {
		if strings.HasPrefix(canonical, p) {
			return true
		}
	}
	return false
}

// shorten bounds client-supplied text echoed in a refusal.
func shorten(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
