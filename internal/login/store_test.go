package login

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

// TestStoreChunks: records larger than a keyring entry allows are split,
// read back whole, shrink without leftovers, and are deleted entirely.
func TestStoreChunks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := &Options{Profile: "p", Store: profiles.FileStore{Dir: dir}}
	ctx := t.Context()
	big := &record{Kind: "cognito", ClientID: "c", AccessToken: strings.Repeat("a", 2500), IDToken: strings.Repeat("i", 2500),
		RefreshToken: strings.Repeat("r", 1800), Expiry: time.Unix(1_900_000_000, 0).UTC()}
	if err := save(ctx, o, big); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(filepath.Join(dir, "p"))
	if len(files) < 4 {
		t.Fatalf("%d files, want an index and at least 3 parts", len(files))
	}
	for _, f := range files {
		fi, _ := f.Info()
		if fi.Size() > chunkSize {
			t.Errorf("%s is %d bytes, over %d", f.Name(), fi.Size(), chunkSize)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f.Name(), fi.Mode().Perm())
		}
	}
	got, err := load(ctx, o)
	if err != nil || got == nil || got.IDToken != big.IDToken || got.RefreshToken != big.RefreshToken || !got.Expiry.Equal(big.Expiry) {
		t.Fatalf("load: %+v %v", got, err)
	}
	small := &record{Kind: "cognito", ClientID: "c", AccessToken: "a"}
	if err := save(ctx, o, small); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(filepath.Join(dir, "p")); len(files) != 1 {
		t.Errorf("%d files after a smaller record, want 1", len(files))
	}
	if got, _ := load(ctx, o); got == nil || got.AccessToken != "a" {
		t.Fatalf("small: %+v", got)
	}
	_ = save(ctx, o, big)
	if err := deleteStored(ctx, o); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(filepath.Join(dir, "p")); len(files) != 0 {
		t.Errorf("%d files left after delete", len(files))
	}
	// A torn write (index without its parts) reads as no login.
	_ = o.Store.Set(ctx, "p", StoreKey, "chunked:3")
	if got, err := load(ctx, o); got != nil || err != nil {
		t.Errorf("torn: %+v %v", got, err)
	}
}
