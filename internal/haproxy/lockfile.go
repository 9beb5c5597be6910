package haproxy

import "context"

// Lock takes the exclusive lock [ReloadCoalesced] uses, on path (creating
// the file), waiting until ctx ends or two minutes pass, and returns the
// function that releases it. Callers that apply changes to HAProxy in
// several steps (package routing/apply) serialise on it the same way.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	return lock(ctx, path)
}
