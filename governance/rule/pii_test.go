package rule

import (
	"slices"
	"testing"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	pt "meshwork.dev/governance/internal/prototest"
	"meshwork.dev/governance/schema"
)

func TestPersonal(t *testing.T) {
	t.Parallel()
	// Each field sits in message Event; "customer" (message Party) and "user" (message
	// UserProfile) give "name" a person context, "machine" (message Machine) does not.
	flagged := []string{
		"email", "contact_email", "e_mail", "emails", "phone", "phone_number", "mobile",
		"mobile_number", "telephone", "first_name", "last_name", "full_name", "display_name",
		"given_name", "family_name", "surname", "firstname", "username", "user_name", "login",
		"login_name", "address", "home_address", "ip_address", "client_ip", "street",
		"postcode", "postal_code", "zip", "zip_code", "birth_date", "date_of_birth", "dob",
		"birthday", "ssn", "social_security_number", "national_id", "passport_number", "iban",
		"card_number", "tax_id", "nickname", "initials", "Email",
	}
	clean := []string{
		"machine_id", "sensor_id", "value", "name", "mac_address", "server_address",
		"last_login_at", "user_id", "zone", "description", "ipsum", "streetlight_count",
		"email_verified", // a bool never identifies anyone
		"email_kind",     // nor does an enum
	}
	var parts []pt.Part
	n := int32(1)
	for _, name := range slices.Concat(flagged, clean) {
		f := pt.Field(name, n, pt.String)
		switch name {
		case "email_verified":
			f = pt.Field(name, n, pt.Bool)
		case "email_kind":
			f = pt.EnumField(name, n, "Kind")
		}
		parts = append(parts, pt.F(f))
		n++
	}
	parts = append(parts,
		pt.F(pt.MessageField("customer", n, "Party")),
		pt.F(pt.MessageField("user", n+1, "UserProfile")),
		pt.F(pt.MessageField("machine", n+2, "Machine")),
		pt.NestedEnum(pt.Enum("Kind", pt.EnumValue{Name: "KIND_UNSPECIFIED"})),
	)
	set := pt.Set(pt.File("t/v1/event.proto", "t.v1", nil,
		pt.Message("Event", parts...),
		pt.Message("Party", pt.F(pt.Field("name", 1, pt.String))),
		pt.Message("UserProfile", pt.F(pt.Field("name", 1, pt.String))),
		pt.Message("Machine", pt.F(pt.Field("name", 1, pt.String))),
	))
	p, err := schema.Load(&platformv1.Schema{FileDescriptorSet: set, MessageName: "t.v1.Event"})
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(flagged), "customer.name", "user.name")
	var got []string
	for _, f := range p.Fields() {
		if why, ok := personal(f); ok {
			if why == "" {
				t.Errorf("%s flagged without a reason", f.Path)
			}
			got = append(got, f.Path)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("flagged fields\n got %q\nwant %q", got, want)
	}
}

func TestCamelWords(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"ServiceEngineer": {"service", "engineer"},
		"HTTPUser":        {"http", "user"},
		"User2FA":         {"user2", "fa"},
		"Customer":        {"customer"},
		"user_profile":    {"user", "profile"},
	}
	for in, want := range tests {
		if got := camelWords(in); !slices.Equal(got, want) {
			t.Errorf("camelWords(%q) = %q, want %q", in, got, want)
		}
	}
}
