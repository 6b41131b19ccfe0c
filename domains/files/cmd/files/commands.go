package main

import (
	"context"
	"fmt"
	"io"

	"meshwork.dev/domains/files/crypt"
	"meshwork.dev/domains/files/mongo"
	"meshwork.dev/platform/errs"
)

// command runs a subcommand if args names one: rotate-kek rewraps every data key wrapped by
// OLD_KEY_ENCRYPTION_KEY under KEY_ENCRYPTION_KEY, without touching content. It is safe to
// rerun. Run it with the service stopped or before switching the service's KEK.
func command(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (int, bool) {
	if len(args) == 0 || args[0] != "rotate-kek" {
		return 0, false
	}
	n, err := rotate(ctx, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "files rotate-kek: %v\n", err)
		return 1, true
	}
	fmt.Fprintf(stdout, "rewrapped %d data keys\n", n)
	return 0, true
}

func rotate(ctx context.Context, getenv func(string) string) (int, error) {
	next, err := crypt.ParseKEK(getenv("KEY_ENCRYPTION_KEY"))
	if err != nil {
		return 0, fmt.Errorf("KEY_ENCRYPTION_KEY %s", errs.Message(err))
	}
	old, err := crypt.ParseKEK(getenv("OLD_KEY_ENCRYPTION_KEY"))
	if err != nil {
		return 0, fmt.Errorf("OLD_KEY_ENCRYPTION_KEY %s", errs.Message(err))
	}
	uri := getenv("MONGODB_URI")
	if uri == "" {
		return 0, fmt.Errorf("MONGODB_URI is required")
	}
	db, closeDB, err := openDB(ctx, uri)
	if err != nil {
		return 0, err
	}
	defer closeDB()
	return mongo.New(db, next, mongo.Limits{}).RotateKEK(ctx, old)
}
