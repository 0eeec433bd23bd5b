package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"whoami", "login", "logout", "profiles", "http_version"}
	for in, want := range map[string]string{"whomai": "whoami", "profils": "profiles", "http_verison": "http_version", "loggin": "login", "zzz": "", "": ""} {
		if got := Closest(in, known); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance = %d, want 3", d)
	}
}
