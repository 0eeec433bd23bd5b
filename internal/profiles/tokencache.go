package profiles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/oauth2"
)

// TokenCache keeps tokens as 0600 JSON files under Dir (created 0700), one
// file per key. Files are written by temp file + rename, so a reader never
// sees half a token, and every entry has its own lock file (gofrs/flock), so
// concurrent gwcurl processes mint a missing or expired token once.
//
// Keys name what a token is for (kind, profile, audience, credential) and are
// shown in -v traces: they must never contain a secret.
//
// An empty Dir keeps tokens in memory only (Source still memoizes).
type TokenCache struct {
	Dir string
	Now func() time.Time // nil means time.Now

	// Trace, when set, receives one line per cache decision (hit, miss,
	// minted, write failure). Lines name the key, never the token.
	Trace func(format string, args ...any)
}

// EarlyExpiry is how long before its expiry a cached token stops being used.
const EarlyExpiry = 60 * time.Second

// cacheEntry is the on-disk format of one entry.
type cacheEntry struct {
	Key          string    `json:"key"`
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

func (c *TokenCache) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *TokenCache) tracef(format string, args ...any) {
	if c.Trace != nil {
		c.Trace(format, args...)
	}
}

// fileBase turns a key into a safe file name: a readable slug (for people
// looking at the directory) plus a hash prefix (for uniqueness).
func fileBase(key string) string {
	sum := sha256.Sum256([]byte(key))
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	slug := strings.Trim(b.String(), "._")
	if slug == "" {
		slug = "token"
	}
	return slug + "-" + hex.EncodeToString(sum[:8])
}

func (c *TokenCache) paths(key string) (file, lock string) {
	base := fileBase(key)
	return filepath.Join(c.Dir, base+".json"), filepath.Join(c.Dir, base+".lock")
}

// ensureDir creates Dir with mode 0700 and tightens it if it is wider.
func (c *TokenCache) ensureDir() error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("create token cache directory: %w", err)
	}
	fi, err := os.Stat(c.Dir)
	if err != nil {
		return fmt.Errorf("token cache directory: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(c.Dir, 0o700); err != nil {
			return fmt.Errorf("restrict token cache directory to 0700: %w", err)
		}
	}
	return nil
}

// Get returns the cached token for key, or nil, nil when there is none. A
// file that cannot be decoded (corrupted, truncated, another key) counts as
// absent; the next Put replaces it. Get returns expired tokens too: the
// caller decides (Source does).
func (c *TokenCache) Get(key string) (*oauth2.Token, error) {
	if c.Dir == "" {
		return nil, nil
	}
	file, _ := c.paths(key)
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read token cache: %w", err)
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Key != key || e.AccessToken == "" {
		c.tracef("token cache: ignoring unreadable entry %s", filepath.Base(file))
		return nil, nil
	}
	t := &oauth2.Token{
		AccessToken:  e.AccessToken,
		TokenType:    e.TokenType,
		RefreshToken: e.RefreshToken,
		Expiry:       e.Expiry,
	}
	if e.IDToken != "" {
		t = t.WithExtra(map[string]any{"id_token": e.IDToken})
	}
	return t, nil
}

// Put stores t under key (0600 file, atomic rename). It keeps the token's
// refresh token and its "id_token" extra.
func (c *TokenCache) Put(key string, t *oauth2.Token) error {
	if c.Dir == "" {
		return nil
	}
	if t == nil || t.AccessToken == "" {
		return errors.New("token cache: refusing to store an empty token")
	}
	if err := c.ensureDir(); err != nil {
		return err
	}
	e := cacheEntry{
		Key:          key,
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
	}
	if id, ok := t.Extra("id_token").(string); ok {
		e.IDToken = id
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	file, _ := c.paths(key)
	if err := WriteFileAtomic(file, b, 0o600); err != nil {
		return fmt.Errorf("write token cache: %w", err)
	}
	return nil
}

// Delete removes the entry for key (absent is not an error). The lock file
// stays: removing it could let two processes lock different inodes.
func (c *TokenCache) Delete(key string) error {
	if c.Dir == "" {
		return nil
	}
	file, _ := c.paths(key)
	if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete token cache entry: %w", err)
	}
	return nil
}

// valid reports whether t can still be used at now: it has a value and
// does not expire within EarlyExpiry. A zero Expiry never expires, as in
// oauth2.
func valid(t *oauth2.Token, now time.Time) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	return t.Expiry.IsZero() || now.Before(t.Expiry.Add(-EarlyExpiry))
}

// Source returns an oauth2.TokenSource for key. It returns the cached token
// while it is valid (until EarlyExpiry before its expiry). Otherwise it takes
// the entry's file lock, re-reads the entry (another process may have minted
// meanwhile), and only then calls mint, stores the result and returns it. ctx
// is used for mint and for waiting on the lock.
//
// The source is safe for concurrent use and memoizes the token in memory, so
// later calls cost no file I/O. A cache that cannot be written (read-only
// directory) degrades to minting without the file: requests still work.
func (c *TokenCache) Source(ctx context.Context, key string, mint func(ctx context.Context) (*oauth2.Token, error)) oauth2.TokenSource {
	return &cachedSource{c: c, ctx: ctx, key: key, mint: mint}
}

type cachedSource struct {
	c    *TokenCache
	ctx  context.Context
	key  string
	mint func(ctx context.Context) (*oauth2.Token, error)

	mu  sync.Mutex
	tok *oauth2.Token
}

func (s *cachedSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.c
	if valid(s.tok, c.now()) {
		return s.tok, nil
	}
	if c.Dir == "" {
		return s.mintLocked()
	}
	if t, _ := c.Get(s.key); valid(t, c.now()) {
		c.tracef("token cache: hit %s (expires %s)", s.key, expiryString(t))
		s.tok = t
		return t, nil
	}
	if err := c.ensureDir(); err != nil {
		c.tracef("token cache: %v; continuing without the cache", err)
		return s.mintLocked()
	}
	_, lockPath := c.paths(s.key)
	fl := flock.New(lockPath, flock.SetPermissions(0o600))
	defer fl.Close()
	ok, err := fl.TryLockContext(s.ctx, 25*time.Millisecond)
	if err != nil || !ok {
		if ctxErr := s.ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		c.tracef("token cache: cannot lock %s: %v; continuing without the cache", filepath.Base(lockPath), err)
		return s.mintLocked()
	}
	defer fl.Unlock()
	// Another process may have minted while we waited for the lock.
	if t, _ := c.Get(s.key); valid(t, c.now()) {
		c.tracef("token cache: hit %s after waiting for another process (expires %s)", s.key, expiryString(t))
		s.tok = t
		return t, nil
	}
	t, err := s.mintLocked()
	if err != nil {
		return nil, err
	}
	if err := c.Put(s.key, t); err != nil {
		c.tracef("token cache: %v", err)
	}
	return t, nil
}

// mintLocked calls mint; s.mu is held.
func (s *cachedSource) mintLocked() (*oauth2.Token, error) {
	s.c.tracef("token cache: miss %s, minting", s.key)
	t, err := s.mint(s.ctx)
	if err != nil {
		return nil, err
	}
	if t == nil || t.AccessToken == "" {
		return nil, errors.New("token source returned an empty token")
	}
	s.tok = t
	return t, nil
}

func expiryString(t *oauth2.Token) string {
	if t.Expiry.IsZero() {
		return "never"
	}
	return t.Expiry.UTC().Format(time.RFC3339)
}
