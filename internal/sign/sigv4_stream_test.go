package sign

import (
	"strings"
	"testing"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

func TestPayloadMode(t *testing.T) {
	cases := []struct {
		auth    profiles.Auth
		service string
		want    string
		err     string
	}{
		{profiles.Auth{}, "s3", "", ""},
		{profiles.Auth{Payload: "hash"}, "lambda", PayloadHash, ""},
		{profiles.Auth{Payload: "streaming"}, "s3", PayloadStreaming, ""},
		{profiles.Auth{Payload: "streaming"}, "lambda", "", "for service s3 only"},
		{profiles.Auth{Payload: "streaming", UnsignedPayload: true}, "s3", "", "contradict"},
		{profiles.Auth{Payload: "chunked"}, "s3", "", `unknown payload mode "chunked"`},
		{profiles.Auth{Checksum: "crc32"}, "s3", payloadTrailer, ""},
		{profiles.Auth{Checksum: "sha256", Payload: "hash"}, "s3", "", "drop --payload"},
		{profiles.Auth{Checksum: "crc32"}, "execute-api", "", "for service s3 only"},
		{profiles.Auth{Checksum: "md5"}, "s3", "", `unknown checksum "md5"`},
	}
	for _, c := range cases {
		got, err := payloadMode(c.auth, c.service)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v/%s: err = %v, want %q", c.auth.Payload, c.service, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%+v/%s: %q, %v; want %q", c.auth.Payload, c.service, got, err, c.want)
		}
	}
}
