package profiles

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// memKeyring is a working keyring.
type memKeyring struct {
	mu   sync.Mutex
	m    map[string]string
	sets int
}

func newMemKeyring() *memKeyring { return &memKeyring{m: map[string]string{}} }

func (k *memKeyring) Get(service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[service+"|"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (k *memKeyring) Set(service, user, password string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(password) > 2500 {
		return errors.New("value too large for this keyring")
	}
	k.sets++
	k.m[service+"|"+user] = password
	return nil
}

func (k *memKeyring) Delete(service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[service+"|"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(k.m, service+"|"+user)
	return nil
}

// brokenKeyring fails every call, as go-keyring does without D-Bus.
type brokenKeyring struct{}

var errNoBus = errors.New(`exec: "dbus-launch": executable file not found in $PATH`)

func (brokenKeyring) Get(string, string) (string, error) { return "", errNoBus }
func (brokenKeyring) Set(string, string, string) error   { return errNoBus }
func (brokenKeyring) Delete(string, string) error        { return errNoBus }

// hangingKeyring never answers until released, as a locked keyring daemon
// waiting for a prompt nobody sees.
type hangingKeyring struct{ release chan struct{} }

func (h hangingKeyring) Get(string, string) (string, error) { <-h.release; return "", errNoBus }
func (h hangingKeyring) Set(string, string, string) error   { <-h.release; return errNoBus }
func (h hangingKeyring) Delete(string, string) error        { <-h.release; return errNoBus }

func autoWith(t *testing.T, b KeyringBackend, onFallback func(string, error)) (SecretStore, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state", "gwcurl", "secrets")
	s, err := NewSecretStore(SecretStoreOptions{Keyring: KeyringStore{Backend: b, Timeout: 50 * time.Millisecond}, Dir: dir, OnFallback: onFallback})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestAutoStoreUsesAWorkingKeyring(t *testing.T) {
	kr := newMemKeyring()
	s, dir := autoWith(t, kr, func(string, error) { t.Error("fallback announced with a working keyring") })
	ctx := t.Context()
	if err := s.Set(ctx, "p", "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file store touched with a working keyring: %v", err)
	}
	if v, err := s.Get(ctx, "p", "k"); err != nil || v != "v1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := s.Delete(ctx, "p", "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "p", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
}

func TestAutoStoreFallsBackWithoutKeyring(t *testing.T) {
	for name, b := range map[string]KeyringBackend{
		"failing": brokenKeyring{},
		"hanging": hangingKeyring{release: make(chan struct{})},
	} {
		t.Run(name, func(t *testing.T) {
			var announced []string
			s, dir := autoWith(t, b, func(d string, cause error) {
				if cause == nil {
					t.Error("fallback without a cause")
				}
				announced = append(announced, d)
			})
			ctx := t.Context()
			// Nothing stored yet: not found, not an error.
			if _, err := s.Get(ctx, "p", "login-tokens"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get before any write = %v, want ErrNotFound", err)
			}
			big := strings.Repeat("t", 5000) // larger than one keyring entry
			if err := s.Set(ctx, "p", "login-tokens", big); err != nil {
				t.Fatal(err)
			}
			if err := s.Set(ctx, "q", "login-tokens", "other"); err != nil {
				t.Fatal(err)
			}
			if len(announced) != 1 || announced[0] != dir {
				t.Errorf("announced %v, want once %s", announced, dir)
			}
			if v, err := s.Get(ctx, "p", "login-tokens"); err != nil || v != big {
				t.Fatalf("Get = %d bytes, %v", len(v), err)
			}
			// One 0600 file in a 0700 directory, holding only the value.
			p := filepath.Join(dir, "p", "login-tokens")
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("token file: %v %v", fi, err)
			}
			for _, d := range []string{dir, filepath.Dir(p)} {
				if di, err := os.Stat(d); err != nil || di.Mode().Perm() != 0o700 {
					t.Errorf("%s: %v %v", d, di.Mode().Perm(), err)
				}
			}
			if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
				t.Errorf("%d files in the profile's directory, want 1", len(entries))
			}
			if b, _ := os.ReadFile(p); string(b) != big {
				t.Error("the file holds something other than the value")
			}
			if err := s.Delete(ctx, "p", "login-tokens"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "p", "login-tokens"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after Delete: %v", err)
			}
			if _, err := os.Stat(filepath.Dir(p)); !errors.Is(err, os.ErrNotExist) {
				t.Error("empty profile directory left behind")
			}
		})
	}
}

// A login stored in files while the keyring was away is read back when the
// keyring answers again, and a later write to the keyring replaces it.
func TestAutoStoreFindsEntriesOfEitherStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	ctx := t.Context()
	down, _ := NewSecretStore(SecretStoreOptions{Keyring: KeyringStore{Backend: brokenKeyring{}}, Dir: dir})
	if err := down.Set(ctx, "p", "k", "from-files"); err != nil {
		t.Fatal(err)
	}
	kr := newMemKeyring()
	up, _ := NewSecretStore(SecretStoreOptions{Keyring: KeyringStore{Backend: kr}, Dir: dir})
	if v, err := up.Get(ctx, "p", "k"); err != nil || v != "from-files" {
		t.Fatalf("keyring up, file entry: %q %v", v, err)
	}
	if err := up.Set(ctx, "p", "k", "from-keyring"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "p", "k")); !errors.Is(err, os.ErrNotExist) {
		t.Error("the file entry survived a keyring write and would shadow it")
	}
	if v, err := up.Get(ctx, "p", "k"); err != nil || v != "from-keyring" {
		t.Fatalf("after keyring write: %q %v", v, err)
	}
	// Logout removes it wherever it is.
	_ = down.Set(ctx, "p", "k2", "x")
	for _, k := range []string{"k", "k2"} {
		if err := up.Delete(ctx, "p", k); err != nil {
			t.Fatal(err)
		}
		if _, err := up.Get(ctx, "p", k); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after Delete: %v", k, err)
		}
	}
}

func TestForcedStores(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	fs, err := NewSecretStore(SecretStoreOptions{Mode: StoreFile, Keyring: KeyringStore{Backend: newMemKeyring()}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Set(ctx, "p", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "p", "k")); err != nil || string(b) != "v" {
		t.Fatalf("file mode did not write the file: %v", err)
	}
	ks, _ := NewSecretStore(SecretStoreOptions{Mode: StoreKeyring, Keyring: KeyringStore{Backend: brokenKeyring{}}, Dir: dir})
	_, err = ks.Get(ctx, "p", "k")
	var su *StoreUnavailableError
	if !errors.As(err, &su) {
		t.Fatalf("forced keyring without one: %v, want *StoreUnavailableError", err)
	}
	if _, err := NewSecretStore(SecretStoreOptions{Mode: "vault"}); err == nil {
		t.Error("unknown mode accepted")
	}
}

// Ctrl-C while the keyring is slow is the caller's cancellation, not a
// reason to write the secret to a file.
func TestAutoStoreCancelledIsNotFallback(t *testing.T) {
	h := hangingKeyring{release: make(chan struct{})}
	defer close(h.release)
	dir := filepath.Join(t.TempDir(), "secrets")
	s, _ := NewSecretStore(SecretStoreOptions{Keyring: KeyringStore{Backend: h, Timeout: time.Minute}, Dir: dir})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Set(ctx, "p", "k", "v"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Error("a cancelled write fell back to the file store")
	}
}

// TestKeyringChunks: values larger than a keyring entry allows are split,
// read back whole, shrink without leftovers, and are deleted entirely.
func TestKeyringChunks(t *testing.T) {
	kr := newMemKeyring()
	k := KeyringStore{Backend: kr}
	ctx := t.Context()
	big := strings.Repeat("a", 2500) + strings.Repeat("i", 2500) + strings.Repeat("r", 1800)
	if err := k.Set(ctx, "p", "login", big); err != nil {
		t.Fatal(err)
	}
	if len(kr.m) < 4 {
		t.Fatalf("%d entries, want an index and at least 3 parts", len(kr.m))
	}
	for n, v := range kr.m {
		if len(v) > chunkSize {
			t.Errorf("%s is %d bytes, over %d", n, len(v), chunkSize)
		}
	}
	if v, err := k.Get(ctx, "p", "login"); err != nil || v != big {
		t.Fatalf("Get: %d bytes, %v", len(v), err)
	}
	if err := k.Set(ctx, "p", "login", "small"); err != nil {
		t.Fatal(err)
	}
	if len(kr.m) != 1 {
		t.Errorf("%d entries after a smaller value, want 1", len(kr.m))
	}
	_ = k.Set(ctx, "p", "login", big)
	if err := k.Delete(ctx, "p", "login"); err != nil {
		t.Fatal(err)
	}
	if len(kr.m) != 0 {
		t.Errorf("%d entries left after delete", len(kr.m))
	}
	// A torn write (index without its parts) reads as absent.
	_ = kr.Set(keyringService, "p/login", "chunked:3")
	if _, err := k.Get(ctx, "p", "login"); !errors.Is(err, ErrNotFound) {
		t.Errorf("torn: %v", err)
	}
}

func TestSecretsDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GWCURL_SECRETS_DIR": "/x", "XDG_STATE_HOME": "/s"}, "/x"},
		{map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"}, "/s/gwcurl/secrets"},
		{map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/h"}, "/h/.local/state/gwcurl/secrets"},
		{map[string]string{"HOME": "/h"}, "/h/.local/state/gwcurl/secrets"},
	}
	for _, c := range cases {
		got, err := SecretsDir(env(c.env))
		if err != nil || got != filepath.FromSlash(c.want) {
			t.Errorf("SecretsDir(%v) = %q, %v; want %q", c.env, got, err, c.want)
		}
	}
}
