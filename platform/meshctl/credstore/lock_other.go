//go:build !unix

package credstore

// lock does nothing where flock is not available: concurrent refreshes are not serialised.
func lock(string) (func(), error) { return func() {}, nil }
