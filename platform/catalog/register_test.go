package catalog_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/errs"
)

func mustCheck(t *testing.T, d *platformv1.DataProductDescriptor) catalog.Candidate {
	t.Helper()
	c, err := catalog.Check(d)
	if err != nil {
		t.Fatalf("Check(%s): %v", d.GetName(), err)
	}
	return c
}

func TestCheckRefusesGovernanceErrors(t *testing.T) {
	t.Parallel()
	d := readings(baseFields...)
	d.Owner = ""
	d.Schema.SchemaRef = "wrong"
	_, err := catalog.Check(d)
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("Check = %v, want an invalid error", err)
	}
	var fields, descs []string
	for _, v := range errs.Violations(err) {
		fields = append(fields, v.Field)
		descs = append(descs, v.Description)
	}
	for _, want := range []string{"descriptor.owner", "descriptor.schema.schema_ref"} {
		if !slices.Contains(fields, want) {
			t.Errorf("violations %v lack field %s", fields, want)
		}
	}
	joined := strings.Join(descs, "\n")
	for _, want := range []string{"DP002: ", "DP007: ", "(hint: "} {
		if !strings.Contains(joined, want) {
			t.Errorf("descriptions lack %q:\n%s", want, joined)
		}
	}
	if _, err := catalog.Check(nil); !errs.Is(err, errs.Invalid) {
		t.Errorf("Check(nil) = %v, want invalid", err)
	}
}

func TestCheckKeepsWarningsAndFillsPII(t *testing.T) {
	t.Parallel()
	d := summaries.Descriptor()
	d.Description = "Short one." // under 20 characters: a DP003 warning
	c := mustCheck(t, d)
	if len(c.Warnings) != 1 || c.Warnings[0].RuleID != "DP003" {
		t.Errorf("warnings = %v, want one DP003", c.Warnings)
	}
	if c.Fingerprint == "" || c.Descriptor == d {
		t.Errorf("candidate must hold a normalized copy and a fingerprint")
	}
	pii := mustCheck(t, contacts()).Descriptor.GetPiiFields()
	if len(pii) != 1 || pii[0].GetPath() != "email" || pii[0].GetMessageName() != "mesh.crm.v1.Payload" {
		t.Errorf("normalized pii_fields = %v, want email of mesh.crm.v1.Payload", pii)
	}
	if s := (catalog.Entry{Descriptor: mustCheck(t, contacts()).Descriptor}).Summary(); !s.HasPII {
		t.Errorf("summary of a product with PII says HasPII false")
	}
}

func TestFingerprintIsAnIdempotencyKey(t *testing.T) {
	t.Parallel()
	base := mustCheck(t, readings(baseFields...)).Fingerprint
	tests := []struct {
		name   string
		change func(*platformv1.DataProductDescriptor)
		same   bool
	}{
		{"equal descriptor", func(*platformv1.DataProductDescriptor) {}, true},
		{"round-tripped through the wire", nil, true},
		{"owner changed", func(d *platformv1.DataProductDescriptor) { d.Owner = "other-team" }, false},
		{"tag added", func(d *platformv1.DataProductDescriptor) { d.Tags = append(d.Tags, "bench") }, false},
		{"field added", func(d *platformv1.DataProductDescriptor) {
			*d = *readings(plus(baseFields, field{Name: "note", Number: 4, Type: tString})...)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := readings(baseFields...)
			if tt.change != nil {
				tt.change(d)
			} else {
				b, _ := proto.Marshal(d)
				d = &platformv1.DataProductDescriptor{}
				if err := proto.Unmarshal(b, d); err != nil {
					t.Fatal(err)
				}
			}
			if got := mustCheck(t, d).Fingerprint; (got == base) != tt.same {
				t.Errorf("fingerprint equal = %v, want %v", got == base, tt.same)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	first, err := catalog.Decide(nil, mustCheck(t, readings(baseFields...)), t0)
	if err != nil {
		t.Fatal(err)
	}
	prev := first.Entry
	tests := []struct {
		name      string
		fields    []field
		owner     string
		kind      catalog.ChangeKind
		revision  int64
		breaking  []string // paths of breaking changes
		updatedAt time.Time
	}{
		{"same descriptor", baseFields, "lab-team", catalog.Unchanged, 1, nil, t0},
		{"owner changed", baseFields, "bench-team", catalog.Updated, 2, nil, t1},
		{"field added", plus(baseFields, field{Name: "note", Number: 4, Type: tString}), "lab-team", catalog.Updated, 2, nil, t1},
		{"field removed and retyped", []field{{Name: "machine_id", Number: 1, Type: tString}, {Name: "unit", Number: 3, Type: tInt32}}, "lab-team", 0, 0,
			[]string{"mesh.lab.v1.Payload.value", "mesh.lab.v1.Payload.unit"}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := readings(tt.fields...)
			d.Owner = tt.owner
			ch, err := catalog.Decide(&prev, mustCheck(t, d), t1)
			if tt.breaking != nil {
				var bc *catalog.BreakingChanges
				if !errs.Is(err, errs.FailedPrecondition) || !errors.As(err, &bc) {
					t.Fatalf("Decide = %v, want failed precondition with BreakingChanges", err)
				}
				var paths []string
				for _, c := range bc.Changes {
					paths = append(paths, c.Field)
				}
				if !slices.Equal(paths, tt.breaking) {
					t.Errorf("breaking paths = %v, want %v", paths, tt.breaking)
				}
				if !strings.Contains(bc.Error(), "lab.readings.v2") {
					t.Errorf("message %q does not point to the next major", bc.Error())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := ch.Entry
			if ch.Kind != tt.kind || e.Revision != tt.revision || !e.UpdatedAt.Equal(tt.updatedAt) || !e.RegisteredAt.Equal(t0) {
				t.Errorf("got %v revision %d updated %v registered %v, want %v revision %d updated %v registered %v",
					ch.Kind, e.Revision, e.UpdatedAt, e.RegisteredAt, tt.kind, tt.revision, tt.updatedAt, t0)
			}
			if ch.Changed() != (tt.kind != catalog.Unchanged) {
				t.Errorf("Changed() = %v", ch.Changed())
			}
		})
	}
	if first.Kind != catalog.Registered || first.Entry.Revision != 1 {
		t.Errorf("first registration = %v revision %d", first.Kind, first.Entry.Revision)
	}
}
