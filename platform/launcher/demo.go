package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// DemoCrewFile is where the launcher keeps the demo engineers it created (mode 0600): with
// the simulators feeding data, scheduling has someone to plan jobs for.
const DemoCrewFile = "demo-crew.json"

// DemoCrewSize is how many demo engineers the launcher creates.
const DemoCrewSize = 3

// userExists is identity create-user's exit code for an email in use.
const userExists = 4

// DemoEngineer is one demo engineer as identity created it; the one-time password lets a
// person sign in as them (meshctl login).
type DemoEngineer struct {
	ID              string `json:"id"`
	Email           string `json:"email"`
	OneTimePassword string `json:"one_time_password"`
}

// ensureDemoCrew creates the demo engineers with `identity create-user` unless dir holds
// DemoCrewFile, and records them there. An engineer whose email is taken already exists and
// is left alone. Scheduling gives every new engineer the skills, home base and shifts of its
// Service.Demo environment, so the crew is plannable at once.
func ensureDemoCrew(ctx context.Context, tool identityTool, dir string, say func(string, ...any)) error {
	path := filepath.Join(dir, DemoCrewFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var crew []DemoEngineer
	for i := 1; i <= DemoCrewSize; i++ {
		email := fmt.Sprintf("engineer%d@meshwork.local", i)
		out, err := tool.run(ctx, "create-user", "--email", email, "--name", fmt.Sprintf("Demo Engineer %d", i), "--role", "engineer", "--json")
		if ee, ok := errors.AsType[*exec.ExitError](err); ok && ee.ExitCode() == userExists {
			continue
		}
		if err != nil {
			return err
		}
		var e DemoEngineer
		if err := json.Unmarshal(out, &e); err != nil || e.ID == "" {
			return fmt.Errorf("launcher: identity create-user printed no user: %v", err)
		}
		crew = append(crew, e)
	}
	if err := writePrivate(path, crew); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	if len(crew) > 0 {
		say("demo crew: %d engineers created for scheduling (%s)", len(crew), path)
	}
	return nil
}
