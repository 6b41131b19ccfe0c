package launcher

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureDemoCrew(t *testing.T) {
	t.Parallel()
	tool, state := fakeTool(t)
	dir := t.TempDir()
	var said []string
	say := func(f string, a ...any) { said = append(said, f) }
	ctx := context.Background()

	if err := ensureDemoCrew(ctx, tool, dir, say); err != nil {
		t.Fatal(err)
	}
	var crew []DemoEngineer
	readMode(t, filepath.Join(dir, DemoCrewFile), &crew)
	if len(crew) != DemoCrewSize || crew[0].Email != "engineer1@meshwork.local" || crew[2].ID == "" || crew[1].OneTimePassword == "" {
		t.Errorf("demo crew %+v, want %d engineers with ids and passwords", crew, DemoCrewSize)
	}
	if got := calls(t, state); len(got) != DemoCrewSize || !strings.HasPrefix(got[0], "create-user --email engineer1@meshwork.local --name Demo Engineer 1 --role engineer") {
		t.Errorf("identity calls %q", got)
	}
	if len(said) != 1 {
		t.Errorf("said %q, want one line", said)
	}

	// The file exists: nothing is asked again.
	if err := ensureDemoCrew(ctx, tool, dir, say); err != nil || len(calls(t, state)) != DemoCrewSize {
		t.Errorf("second run: %v, %d calls; want none more", err, len(calls(t, state))-DemoCrewSize)
	}

	// The file is gone but the users exist (identity exit 4): they are left alone.
	if err := os.Remove(filepath.Join(dir, DemoCrewFile)); err != nil {
		t.Fatal(err)
	}
	if err := ensureDemoCrew(ctx, tool, dir, say); err != nil {
		t.Fatalf("users already there: %v", err)
	}
	readMode(t, filepath.Join(dir, DemoCrewFile), &crew)
	if len(crew) != 0 {
		t.Errorf("crew file %+v, want empty: no engineer was created", crew)
	}

	// identity failing is an error naming the subcommand.
	failing, fstate := fakeTool(t)
	if err := os.WriteFile(filepath.Join(fstate, "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ensureDemoCrew(ctx, failing, t.TempDir(), say); err == nil || !strings.Contains(err.Error(), "create-user") {
		t.Errorf("failing identity: %v, want an error naming create-user", err)
	}
}
