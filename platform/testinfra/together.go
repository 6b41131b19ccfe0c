package testinfra

import (
	"sync"
	"testing"
)

// Together runs fn(0) … fn(n-1) at the same moment, as n replicas of a service starting
// together would (migrating one database, provisioning one stream), and waits for all. It
// reports each error on t and returns whether none failed.
func Together(t testing.TB, n int, fn func(i int) error) bool {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	ok := true
	for i, err := range errs {
		if err != nil {
			t.Errorf("%d of %d together: %v", i+1, n, err)
			ok = false
		}
	}
	return ok
}
