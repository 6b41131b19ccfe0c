package rpc_test

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/catalog/rpc"
	"meshwork.dev/platform/dataproduct"
)

func TestRules(t *testing.T) {
	t.Parallel()
	for _, m := range platformv1.CatalogService_ServiceDesc.Methods {
		name := "/" + platformv1.CatalogService_ServiceDesc.ServiceName + "/" + m.MethodName
		rule, ok := rpc.Rules[name]
		if !ok {
			t.Errorf("%s has no rule", name)
			continue
		}
		register := name == platformv1.CatalogService_RegisterProduct_FullMethodName
		tests := []struct {
			claims *auth.Claims
			allow  bool
		}{
			{nil, false}, // catalog reads need a token (ADR 0005)
			{&auth.Claims{Subject: "u", Roles: []string{"viewer"}}, !register},
			{&auth.Claims{Subject: "svc", Roles: []string{"service"}}, true},
			{&auth.Claims{Subject: "a", Roles: []string{"admin"}}, true},
		}
		for _, tt := range tests {
			if got := rule.Allows(tt.claims); got != tt.allow {
				t.Errorf("%s with %v: allowed %v, want %v", name, tt.claims, got, tt.allow)
			}
		}
	}
}

func TestProtoFilesPayloadFirst(t *testing.T) {
	t.Parallel()
	p := dataproduct.Product{Domain: "quality", Name: "summaries", Major: 1, Owner: "q", Message: &platformv1.ProductSummary{}, Classification: dataproduct.ClassInternal}
	s := p.Descriptor().GetSchema()
	files, err := rpc.ProtoFiles(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mesh/platform/v1/catalog.proto"}
	for _, f := range s.GetFileDescriptorSet().GetFile() {
		if f.GetName() != want[0] {
			want = append(want, f.GetName())
		}
	}
	var got []string
	for _, f := range files {
		got = append(got, f.GetPath())
		if f.GetSource() == "" {
			t.Errorf("%s has no source", f.GetPath())
		}
	}
	if !slices.Equal(got, want) || len(want) < 3 {
		t.Errorf("files = %v, want the payload's first, then the set's order %v", got, want)
	}
}

func TestBreakingChangesBecomePreconditionFailure(t *testing.T) {
	t.Parallel()
	// A real refusal is built in the component test; here only the status shape.
	err := rpc.BreakingStatusForTest()
	st, _ := status.FromError(err)
	if st.Code() != codes.FailedPrecondition {
		t.Fatalf("code = %v", st.Code())
	}
	var pf *errdetails.PreconditionFailure
	for _, d := range st.Details() {
		if p, ok := d.(*errdetails.PreconditionFailure); ok {
			pf = p
		}
	}
	if pf == nil || len(pf.GetViolations()) != 2 || pf.GetViolations()[0].GetType() != "BREAKING_CHANGE" ||
		pf.GetViolations()[0].GetSubject() != "mesh.lab.v1.Payload.value" {
		t.Errorf("details = %v", st.Details())
	}
	if other := errors.New("x"); rpc.BreakingStatusOf(other) != other {
		t.Error("other errors must pass through")
	}
}
