package profiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotFound is returned by a SecretStore that has no value for a key.
var ErrNotFound = errors.New("secret not found")

// SecretStore keeps secrets out of the config file. Implementations are safe
// for concurrent use.
type SecretStore interface {
	Get(ctx context.Context, profile, key string) (string, error) // ErrNotFound
	Set(ctx context.Context, profile, key, value string) error
	Delete(ctx context.Context, profile, key string) error
}

// Resolver resolves secret references found in profile fields:
//
//	env:NAME      the environment variable NAME
//	cmd:COMMAND   the trimmed stdout of COMMAND run by sh -c (like credential_process)
//	keyring:KEY   KEY in the secret store under the profile (what `profiles add` writes)
//	file:PATH     the trimmed contents of a 0600 file (relative paths are relative to BaseDir)
//
// Anything else is an error: a config file never holds a literal secret.
type Resolver struct {
	Getenv func(string) string
	Store  SecretStore // may be nil when no store is configured
	// RunTimeout bounds cmd: references; 0 means 30s.
	RunTimeout time.Duration
	// BaseDir anchors relative file: references (the config file's directory).
	BaseDir string
}

// Resolve returns the secret a reference points to. field names the config
// field for error messages (e.g. "auth.client_secret").
func (r *Resolver) Resolve(ctx context.Context, profile, field, ref string) (string, error) {
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok || rest == "" {
		return "", fmt.Errorf("%s: %q is not a secret reference (want env:NAME, cmd:COMMAND, file:PATH or keyring:KEY)", field, redactRef(ref))
	}
	switch scheme {
	case "env":
		v := ""
		if r.Getenv != nil {
			v = r.Getenv(rest)
		}
		if v == "" {
			return "", fmt.Errorf("%s: environment variable %s is not set", field, rest)
		}
		return v, nil
	case "cmd":
		timeout := r.RunTimeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", rest)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(errb.String())
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			return "", fmt.Errorf("%s: command failed: %v %s", field, err, msg)
		}
		v := strings.TrimRight(out.String(), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s: command printed nothing", field)
		}
		return v, nil
	case "keyring":
		if r.Store == nil {
			return "", fmt.Errorf("%s: no secret store is available", field)
		}
		v, err := r.Store.Get(ctx, profile, rest)
		if errors.Is(err, ErrNotFound) {
			return "", fmt.Errorf("%s: no secret %q stored for profile %q", field, rest, profile)
		}
		return v, err
	case "file":
		p := rest
		if !filepath.IsAbs(p) && r.BaseDir != "" {
			p = filepath.Join(r.BaseDir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%s: cannot read secret file: %w", field, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s: secret file %s is empty", field, p)
		}
		return v, nil
	default:
		return "", fmt.Errorf("%s: unknown secret reference scheme %q (want env:, cmd:, file: or keyring:)", field, scheme)
	}
}

// redactRef avoids echoing something that may be a pasted secret.
func redactRef(s string) string {
	if len(s) <= 4 {
		return "****"
	}
	return s[:2] + "…"
}

// IsRef reports whether s looks like a secret reference.
func IsRef(s string) bool {
	scheme, rest, ok := strings.Cut(s, ":")
	return ok && rest != "" && (scheme == "env" || scheme == "cmd" || scheme == "keyring" || scheme == "file")
}

// WriteFileAtomic writes data to a temp file beside path and renames it into
// place, so readers never see a half-written file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after a successful rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(name, path)
}
