package testinfra

import (
	"strings"
	"testing"
)

func TestDatabaseName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		test string
		seq  int64
		want string
	}{
		{"TestX", 1, "t1_testx"},
		{"TestOrders/Create_Twice#01", 12, "t12_testorders_create_twice_01"},
		{"TestÜmlaut", 3, "t3_test_mlaut"},
		{strings.Repeat("A", 100), 7, "t7_" + strings.Repeat("a", 40)},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			got := databaseName(tt.test, tt.seq)
			if got != tt.want {
				t.Fatalf("databaseName(%q, %d) = %q, want %q", tt.test, tt.seq, got, tt.want)
			}
			if len(got) > 63 {
				t.Fatalf("%q is longer than Postgres's 63-byte limit", got)
			}
		})
	}
}

func TestCheckMain(t *testing.T) {
	t.Parallel()
	if err := checkMain(true, "StartPostgres"); err != nil {
		t.Fatalf("with Main: %v", err)
	}
	err := checkMain(false, "StartPostgres")
	if err == nil || !strings.Contains(err.Error(), "func TestMain(m *testing.M) { testinfra.Main(m) }") {
		t.Fatalf("without Main: %v, want the TestMain line to add", err)
	}
}
