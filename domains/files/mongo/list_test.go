package mongo_test

import (
	"context"
	"testing"
	"time"

	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/stream"
)

func TestListPagesAndShares(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, kek(t, 1))
	var ids []string
	for range 5 {
		ids = append(ids, upload(t, s, alice, "f", []byte("x")).ID)
	}
	upload(t, s, file.Principal{Subject: "bob"}, "bobs", []byte("y"))
	var seen []string
	token := ""
	for {
		page, next, err := s.List(ctx, alice, 2, token, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page {
			seen = append(seen, f.ID)
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(seen) != 5 || seen[0] != ids[4] || seen[4] != ids[0] {
		t.Fatalf("pages %v, want alice's 5 files newest first %v", seen, ids)
	}
	if _, err := s.Update(ctx, alice, ids[0], stream.Shared, func(f *file.File, now time.Time) error {
		return f.AddShare(file.Share{UserID: "bob", Expires: now.Add(time.Hour)}, now)
	}); err != nil {
		t.Fatal(err)
	}
	page, _, err := s.List(ctx, file.Principal{Subject: "bob"}, 10, "", false)
	if err != nil || len(page) != 2 {
		t.Fatalf("bob lists %d files (%v), want his own and the shared one", len(page), err)
	}
}
