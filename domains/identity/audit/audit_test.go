package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"meshwork.dev/domains/identity/audit"
)

func TestLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e     audit.Entry
		level string
		want  map[string]string
	}{
		{audit.Entry{At: time.Now(), Action: audit.LoginFailed, SubjectID: "u1", Source: "10.0.0.1", Details: map[string]string{"reason": "wrong password"}},
			"WARN", map[string]string{"action": "login.failed", "subject": "u1", "source": "10.0.0.1", "reason": "wrong password"}},
		{audit.Entry{At: time.Now(), Action: audit.GrantCreated, ActorID: "admin", SubjectID: "u2"},
			"INFO", map[string]string{"action": "grant.created", "actor": "admin", "subject": "u2"}},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		audit.Log(context.Background(), slog.New(slog.NewJSONHandler(&buf, nil)), tt.e)
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line["msg"] != "audit" || line["level"] != tt.level {
			t.Errorf("line %v", line)
		}
		for k, v := range tt.want {
			if line[k] != v {
				t.Errorf("%s = %v, want %s", k, line[k], v)
			}
		}
		if _, ok := line["actor"]; ok && tt.e.ActorID == "" {
			t.Error("empty actor logged")
		}
	}
}
