package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/kek"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/stream"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

type env struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	store *postgres.Store
	key   *kek.Key
}

func newEnv(t *testing.T) env {
	t.Helper()
	pool := testinfra.StartPostgres(t).Pool(t)
	key, err := kek.Parse(kek.Generate())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	s := postgres.New(pool, key, stream.Message)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return env{ctx: ctx, pool: pool, store: s, key: key}
}

// person creates a person with roles and returns them.
func (e env) person(t *testing.T, email string, roles ...user.Role) *user.User {
	t.Helper()
	u, err := user.New(uuid.NewString(), email, "Someone", roles, postgres.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateUser(e.ctx, postgres.NewUser{User: u, PasswordHash: "$argon2id$fake",
		Audit: audit.Entry{At: postgres.Now(), Action: audit.UserCreated, ActorID: "test", SubjectID: u.ID()}}); err != nil {
		t.Fatal(err)
	}
	return u
}

// outboxSubjects lists the subjects of the enqueued events, in order.
func (e env) outboxSubjects(t *testing.T) []string {
	t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT subject FROM outbox_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}
