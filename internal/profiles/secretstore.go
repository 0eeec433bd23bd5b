package profiles

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"
)

// Where secrets live (docs/configuration.md, "Secret store"):
//
//   - the OS keyring (macOS Keychain, Windows Credential Manager, the Secret
//     Service on Linux desktops) when one answers;
//   - otherwise 0600 files in a 0700 directory under the user's state
//     directory ([SecretsDir]), chosen automatically, as gh and the AWS CLI's
//     SSO cache do on machines without a keyring (servers, containers, SSH
//     hosts, CI, WSL).
//
// GWCURL_SECRET_STORE=keyring|file forces one; --insecure-storage is a
// synonym of file. Entries are found whichever store wrote them: the file
// store is read first (it is local and cannot hang), then the keyring; a
// write that reaches the keyring removes the file entry of the same name, so
// the two never disagree.

// Store modes for [SecretStoreOptions.Mode] and GWCURL_SECRET_STORE.
const (
	StoreAuto    = "auto"
	StoreKeyring = "keyring"
	StoreFile    = "file"
)

// SecretStoreOptions configures [NewSecretStore].
type SecretStoreOptions struct {
	// Mode is "", auto, keyring or file (GWCURL_SECRET_STORE).
	Mode string
	// Keyring is the OS keyring; nil means [KeyringStore] with its default
	// timeout.
	Keyring SecretStore
	// Dir is the file store's directory ([SecretsDir]).
	Dir string
	// OnFallback is called once, when a write goes to the file store
	// because the keyring did not answer and the directory did not exist
	// before: the CLI prints one line naming the directory.
	OnFallback func(dir string, cause error)
}

// NewSecretStore returns the store every command uses for secrets (login
// tokens, keyring: references). It is safe for concurrent use; once the
// keyring has failed to answer, later calls in the process go straight to
// the files.
func NewSecretStore(o SecretStoreOptions) (SecretStore, error) {
	files := FileStore{Dir: o.Dir}
	kr := o.Keyring
	if kr == nil {
		kr = KeyringStore{}
	}
	switch o.Mode {
	case StoreFile:
		return files, nil
	case StoreKeyring:
		return keyringOnly{kr}, nil
	case "", StoreAuto:
		return &autoStore{keyring: kr, files: files, onFallback: o.OnFallback}, nil
	}
	return nil, &ConfigError{Key: "GWCURL_SECRET_STORE", Msg: fmt.Sprintf("unknown secret store %q (want keyring, file or auto)", o.Mode)}
}

// SecretsDir returns the file store's directory: $GWCURL_SECRETS_DIR, else
// $XDG_STATE_HOME/gwcurl/secrets, else ~/.local/state/gwcurl/secrets on
// Linux and the BSDs, else the OS config directory's gwcurl/secrets.
func SecretsDir(getenv func(string) string) (string, error) {
	if d := getenv("GWCURL_SECRETS_DIR"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "gwcurl", "secrets"), nil
	}
	if runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, ".local", "state", "gwcurl", "secrets"), nil
		}
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a directory for the secret files: %w (set XDG_STATE_HOME)", err)
	}
	return filepath.Join(d, "gwcurl", "secrets"), nil
}

// StoreUnavailableError says the OS keyring did not answer. With
// GWCURL_SECRET_STORE=keyring it is returned as is; in auto mode the file
// store takes over.
type StoreUnavailableError struct{ Err error }

func (e *StoreUnavailableError) Error() string {
	return "the OS keyring is not available: " + e.Err.Error()
}
func (e *StoreUnavailableError) Unwrap() error { return e.Err }

// autoStore is the keyring when it answers, else the file store.
type autoStore struct {
	keyring    SecretStore
	files      FileStore
	onFallback func(dir string, cause error)

	mu        sync.Mutex
	down      error // why the keyring is not used any more in this process
	announced bool
}

func (s *autoStore) keyringDown() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// failed records a keyring failure. It returns false when the failure is
// the caller's context (Ctrl-C), which says nothing about the keyring.
func (s *autoStore) failed(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down == nil {
		s.down = err
	}
	return true
}

func (s *autoStore) Get(ctx context.Context, profile, key string) (string, error) {
	v, err := s.files.Get(ctx, profile, key)
	if !errors.Is(err, ErrNotFound) {
		return v, err
	}
	if s.keyringDown() != nil {
		return "", ErrNotFound
	}
	v, err = s.keyring.Get(ctx, profile, key)
	switch {
	case err == nil || errors.Is(err, ErrNotFound):
		return v, err
	case !s.failed(ctx, err):
		return "", ctx.Err()
	}
	return "", ErrNotFound // no keyring: nothing can be in it
}

func (s *autoStore) Set(ctx context.Context, profile, key, value string) error {
	cause := s.keyringDown()
	if cause == nil {
		err := s.keyring.Set(ctx, profile, key, value)
		if err == nil {
			// The keyring holds it now; a file entry left by an earlier
			// fallback would shadow it.
			_ = s.files.Delete(ctx, profile, key)
			return nil
		}
		if !s.failed(ctx, err) {
			return ctx.Err()
		}
		cause = err
	}
	_, statErr := os.Stat(s.files.Dir)
	if err := s.files.Set(ctx, profile, key, value); err != nil {
		return err
	}
	s.mu.Lock()
	announce := !s.announced && errors.Is(statErr, os.ErrNotExist) && s.onFallback != nil
	s.announced = s.announced || announce
	s.mu.Unlock()
	if announce {
		s.onFallback(s.files.Dir, cause)
	}
	return nil
}

func (s *autoStore) Delete(ctx context.Context, profile, key string) error {
	if err := s.files.Delete(ctx, profile, key); err != nil {
		return err
	}
	if s.keyringDown() != nil {
		return nil
	}
	err := s.keyring.Delete(ctx, profile, key)
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	if !s.failed(ctx, err) {
		return ctx.Err()
	}
	return nil // no keyring: nothing to delete there
}

// keyringOnly is GWCURL_SECRET_STORE=keyring: the keyring's failures are
// returned, as *StoreUnavailableError.
type keyringOnly struct{ kr SecretStore }

func (k keyringOnly) wrap(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || ctx.Err() != nil {
		return err
	}
	return &StoreUnavailableError{Err: err}
}

func (k keyringOnly) Get(ctx context.Context, profile, key string) (string, error) {
	v, err := k.kr.Get(ctx, profile, key)
	return v, k.wrap(ctx, err)
}

func (k keyringOnly) Set(ctx context.Context, profile, key, value string) error {
	return k.wrap(ctx, k.kr.Set(ctx, profile, key, value))
}

func (k keyringOnly) Delete(ctx context.Context, profile, key string) error {
	err := k.wrap(ctx, k.kr.Delete(ctx, profile, key))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// KeyringBackend is the OS keyring's API (zalando/go-keyring's); tests put
// a failing or hanging one in its place.
type KeyringBackend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// osKeyring is go-keyring's process-wide provider.
type osKeyring struct{}

func (osKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (osKeyring) Set(service, user, password string) error {
	return keyring.Set(service, user, password)
}
func (osKeyring) Delete(service, user string) error { return keyring.Delete(service, user) }

// KeyringStore is the OS keyring (zalando/go-keyring), each call bounded by
// Timeout because a locked or absent keyring daemon can hang forever (gh does
// the same with 3 s). Values longer than one keyring entry allows are split
// ([chunkSize]).
type KeyringStore struct {
	Timeout time.Duration  // 0 means 3 s
	Backend KeyringBackend // nil means the OS keyring
}

const keyringService = "gwcurl"

// Keyrings limit the size of one value (Windows Credential Manager 2560
// bytes, the macOS keychain about 3000 with the names), and three Cognito
// tokens take 4–5 KB. A value longer than chunkSize is kept as an index
// "chunked:N" under its key and N parts under KEY-1 … KEY-N.
const (
	chunkSize   = 2000
	chunkPrefix = "chunked:"
	maxChunks   = 64
)

func (k KeyringStore) backend() KeyringBackend {
	if k.Backend == nil {
		return osKeyring{}
	}
	return k.Backend
}

func (k KeyringStore) do(ctx context.Context, f func(KeyringBackend) (string, error)) (string, error) {
	t := k.Timeout
	if t == 0 {
		t = 3 * time.Second
	}
	type result struct {
		v   string
		err error
	}
	ch := make(chan result, 1)
	b := k.backend()
	go func() { v, err := f(b); ch <- result{v, err} }()
	timer := time.NewTimer(t)
	defer timer.Stop()
	select {
	case r := <-ch:
		if errors.Is(r.err, keyring.ErrNotFound) {
			return "", ErrNotFound
		}
		return r.v, r.err
	case <-timer.C:
		return "", fmt.Errorf("the keyring did not answer within %s", t)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func entry(profile, key string) string { return profile + "/" + key }

func (k KeyringStore) get(ctx context.Context, name string) (string, error) {
	return k.do(ctx, func(b KeyringBackend) (string, error) { return b.Get(keyringService, name) })
}

func (k KeyringStore) set(ctx context.Context, name, value string) error {
	_, err := k.do(ctx, func(b KeyringBackend) (string, error) { return "", b.Set(keyringService, name, value) })
	return err
}

func (k KeyringStore) del(ctx context.Context, name string) error {
	_, err := k.do(ctx, func(b KeyringBackend) (string, error) { return "", b.Delete(keyringService, name) })
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func chunkCount(v string) (int, bool) {
	rest, ok := strings.CutPrefix(v, chunkPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > maxChunks {
		return 0, false
	}
	return n, true
}

func (k KeyringStore) Get(ctx context.Context, profile, key string) (string, error) {
	name := entry(profile, key)
	v, err := k.get(ctx, name)
	if err != nil {
		return "", err
	}
	n, ok := chunkCount(v)
	if !ok {
		return v, nil
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		part, err := k.get(ctx, name+"-"+strconv.Itoa(i))
		if errors.Is(err, ErrNotFound) {
			return "", ErrNotFound // torn write: as if absent
		}
		if err != nil {
			return "", err
		}
		b.WriteString(part)
	}
	return b.String(), nil
}

// Set writes the parts first, then the index, then drops parts a longer
// previous value left behind.
func (k KeyringStore) Set(ctx context.Context, profile, key, value string) error {
	name := entry(profile, key)
	old, err := k.get(ctx, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	oldN, _ := chunkCount(old)
	n := 0
	if len(value) > chunkSize {
		if (len(value)+chunkSize-1)/chunkSize > maxChunks {
			return errors.New("the value is too large for the keyring")
		}
		for i := 0; i < len(value); i += chunkSize {
			n++
			if err := k.set(ctx, name+"-"+strconv.Itoa(n), value[i:min(i+chunkSize, len(value))]); err != nil {
				return err
			}
		}
		value = chunkPrefix + strconv.Itoa(n)
	}
	if err := k.set(ctx, name, value); err != nil {
		return err
	}
	for i := n + 1; i <= oldN; i++ {
		_ = k.del(ctx, name+"-"+strconv.Itoa(i))
	}
	return nil
}

func (k KeyringStore) Delete(ctx context.Context, profile, key string) error {
	name := entry(profile, key)
	old, err := k.get(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := k.del(ctx, name); err != nil {
		return err
	}
	n, _ := chunkCount(old)
	for i := 1; i <= n; i++ {
		if err := k.del(ctx, name+"-"+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	return nil
}

// FileStore keeps secrets as 0600 files under Dir, one directory per
// profile and one file per key, every directory 0700. It is the store on
// machines without a keyring.
type FileStore struct {
	Dir string
}

func (f FileStore) path(profile, key string) (string, error) {
	if f.Dir == "" {
		return "", errors.New("no directory for the secret files")
	}
	for _, s := range []string{profile, key} {
		if s == "" || strings.ContainsAny(s, `/\`) || s == "." || s == ".." {
			return "", fmt.Errorf("invalid secret name %q", s)
		}
	}
	return filepath.Join(f.Dir, profile, key), nil
}

func (f FileStore) Get(_ context.Context, profile, key string) (string, error) {
	p, err := f.path(profile, key)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNotFound
	}
	return string(b), err
}

func (f FileStore) Set(_ context.Context, profile, key, value string) error {
	p, err := f.path(profile, key)
	if err != nil {
		return err
	}
	for _, d := range []string{f.Dir, filepath.Dir(p)} {
		if err := privateDir(d); err != nil {
			return err
		}
	}
	return WriteFileAtomic(p, []byte(value), 0o600)
}

// privateDir makes d (and its parents) exist, and d itself 0700 whatever
// the umask or an earlier tool left.
func privateDir(d string) error {
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(d)
	if err != nil {
		return err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		return os.Chmod(d, 0o700)
	}
	return nil
}

func (f FileStore) Delete(_ context.Context, profile, key string) error {
	p, err := f.path(profile, key)
	if err != nil {
		return err
	}
	err = os.Remove(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		_ = os.Remove(filepath.Dir(p)) // the profile's directory, once empty
	}
	return err
}
