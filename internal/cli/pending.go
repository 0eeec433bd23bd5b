package cli

import (
	"context"
	"fmt"
)

// Browser logins (cognito, magic-link) and STS identity whoami are wired in
// when their packages land.

func (f *Factory) browserLogin(ctx context.Context, pc *profileCtx, o *loginOptions) error {
	return fmt.Errorf("%s login is not available in this build yet", pc.auth.Kind)
}

func (f *Factory) browserLogout(ctx context.Context, pc *profileCtx) error {
	return fmt.Errorf("%s logout is not available in this build yet", pc.auth.Kind)
}

func (f *Factory) browserWhoami(ctx context.Context, pc *profileCtx, id *identity) (*identity, error) {
	return nil, fmt.Errorf("%s whoami is not available in this build yet", pc.auth.Kind)
}

func (f *Factory) stsWhoami(ctx context.Context, pc *profileCtx, id *identity) error {
	return fmt.Errorf("%s whoami is not available in this build yet", pc.auth.Kind)
}
