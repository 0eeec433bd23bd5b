package awsv4

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	const cred = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
	ok := Authorization{Algorithm: Algorithm, Credential: cred, SignedHeaders: "host;x-amz-date", Signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"}
	cases := []struct {
		in      string
		want    Authorization
		problem AuthProblem
		part    string
		msg     string
	}{
		{in: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-date, Signature=" + ok.Signature, want: ok},
		{in: "  AWS4-HMAC-SHA256 Signature=" + ok.Signature + ",SignedHeaders=host;x-amz-date,Credential=" + cred + " ", want: ok},
		{in: "AWS4-ECDSA-P256-SHA256 Credential=a, SignedHeaders=host, Signature=ab", want: Authorization{Algorithm: "AWS4-ECDSA-P256-SHA256", Credential: "a", SignedHeaders: "host", Signature: "ab"}},
		{in: "AWS4-HMAC-SHA256 Credential=" + cred + ", junk", want: Authorization{Algorithm: Algorithm, Credential: cred}, problem: NotNameValue, part: "junk", msg: `malformed Authorization header: "junk" is not Name=Value`},
		{in: "AWS4-HMAC-SHA256", want: Authorization{Algorithm: Algorithm}, problem: NotNameValue, part: ""},
		{in: "AWS4-HMAC-SHA256 Credential=" + cred + ", Foo=bar, Signature=ab", want: Authorization{Algorithm: Algorithm, Credential: cred}, problem: UnknownField, part: "Foo",
			msg: `malformed Authorization header: unexpected field "Foo" (want Credential, SignedHeaders, Signature)`},
		{in: "AWS4-HMAC-SHA256 SignedHeaders=host, SignedHeaders=host;x-amz-date, Credential=" + cred + ", Signature=ab", want: Authorization{Algorithm: Algorithm, SignedHeaders: "host"}, problem: DuplicateField, part: "SignedHeaders",
			msg: "malformed Authorization header: SignedHeaders appears twice"},
		{in: "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host", want: Authorization{Algorithm: Algorithm, Credential: cred, SignedHeaders: "host"}, problem: MissingField, part: "Signature",
			msg: "malformed Authorization header: Signature is missing"},
		{in: "AWS4-HMAC-SHA256 " + strings.Repeat("x", 200), want: Authorization{Algorithm: Algorithm}, problem: NotNameValue, part: strings.Repeat("x", 200),
			msg: `malformed Authorization header: "` + strings.Repeat("x", 80) + `…" is not Name=Value`},
	}
	for _, c := range cases {
		got, err := ParseAuthorization(c.in)
		if got != c.want {
			t.Errorf("%q: got %+v, want %+v", c.in, got, c.want)
		}
		var ae *AuthError
		switch {
		case c.problem == 0 && err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.problem != 0 && (!errors.As(err, &ae) || ae.Problem != c.problem || ae.Part != c.part):
			t.Errorf("%q: err %#v, want problem %d part %q", c.in, err, c.problem, c.part)
		case c.msg != "" && err.Error() != c.msg:
			t.Errorf("%q: message %q, want %q", c.in, err, c.msg)
		}
	}
}

func TestParseCredential(t *testing.T) {
	t.Parallel()
	c, ok := ParseCredential("AKID/20150830/us-east-1/iam/aws4_request")
	if !ok || c != (Credential{"AKID", "20150830", "us-east-1", "iam", "aws4_request"}) {
		t.Fatalf("%+v %v", c, ok)
	}
	for _, bad := range []string{"", "AKID/20150830/us-east-1/iam", "a/b/c/d/e/f"} {
		if _, ok := ParseCredential(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
