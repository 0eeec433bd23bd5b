package login_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// failingKeyring answers every call with the error go-keyring gives on a
// machine without D-Bus; hangingKeyring never answers.
type failingKeyring struct{}

func (failingKeyring) Get(string, string) (string, error) {
	return "", errors.New(`exec: "dbus-launch": executable file not found in $PATH`)
}
func (failingKeyring) Set(string, string, string) error {
	return errors.New(`exec: "dbus-launch": executable file not found in $PATH`)
}
func (failingKeyring) Delete(string, string) error {
	return errors.New(`exec: "dbus-launch": executable file not found in $PATH`)
}

type hangingKeyring struct{}

func (hangingKeyring) Get(string, string) (string, error) { select {} }
func (hangingKeyring) Set(string, string, string) error   { select {} }
func (hangingKeyring) Delete(string, string) error        { select {} }

// Every keyring failure ends in a working login and request, or in "login
// required" (exit 4 with the login hint), never a bare store error.
func TestLoginWithoutAWorkingKeyring(t *testing.T) {
	for name, backend := range map[string]profiles.KeyringBackend{"failing": failingKeyring{}, "hanging": hangingKeyring{}} {
		t.Run(name, func(t *testing.T) {
			e := startDemo(t)
			dir := filepath.Join(t.TempDir(), "secrets")
			var announced string
			store, err := profiles.NewSecretStore(profiles.SecretStoreOptions{
				Keyring:    profiles.KeyringStore{Backend: backend, Timeout: 100 * time.Millisecond},
				Dir:        dir,
				OnFallback: func(d string, _ error) { announced = d },
			})
			if err != nil {
				t.Fatal(err)
			}
			o := e.opts(t, "demo-cognito")
			o.Store = store
			o.Browser = demoflow.FormBrowser(context.Background(), e.srv.Client(), demo.UserEmail, demo.UserPassword, nil)

			_, err = login.Token(t.Context(), o)
			var lr *login.LoginRequiredError
			if !errors.As(err, &lr) || lr.Hint() != "run `gwcurl login -p demo-cognito`" {
				t.Fatalf("before login: %v, want login required with the login hint", err)
			}
			if _, err := login.Login(t.Context(), o); err != nil {
				t.Fatalf("login: %v", err)
			}
			if announced != dir {
				t.Errorf("fallback announced for %q, want %q", announced, dir)
			}
			tok, err := login.Token(t.Context(), o)
			if err != nil || tok.AccessToken == "" {
				t.Fatalf("after login: %v", err)
			}
			if err := login.Logout(t.Context(), o); err != nil {
				t.Fatalf("logout: %v", err)
			}
			if _, err := login.Token(t.Context(), o); !errors.As(err, &lr) {
				t.Fatalf("after logout: %v, want login required", err)
			}
		})
	}
}

// With GWCURL_SECRET_STORE=keyring and no keyring, a request still says
// "login required", with a hint that names the store setting.
func TestForcedKeyringUnavailableIsLoginRequired(t *testing.T) {
	e := startDemo(t)
	store, _ := profiles.NewSecretStore(profiles.SecretStoreOptions{Mode: profiles.StoreKeyring, Keyring: profiles.KeyringStore{Backend: failingKeyring{}}})
	o := e.opts(t, "demo-cognito")
	o.Store = store
	_, err := login.Token(t.Context(), o)
	var lr *login.LoginRequiredError
	if !errors.As(err, &lr) || !strings.Contains(lr.Hint(), "GWCURL_SECRET_STORE") {
		t.Fatalf("got %v, want login required with a store hint", err)
	}
}
