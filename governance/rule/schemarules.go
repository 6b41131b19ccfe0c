package rule

import (
	"errors"
	"slices"
	"strings"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
)

// checkSchema is DP007.
func checkSchema(s *subject) []Finding {
	sc := s.d.GetSchema()
	if sc == nil {
		return []Finding{errorf("schema", "schema is not set")}
	}
	var out []Finding
	files, err := schema.NewFiles(sc.GetFileDescriptorSet())
	switch {
	case errors.Is(err, schema.ErrEmpty):
		out = append(out, errorf("schema.file_descriptor_set", "file_descriptor_set is empty"))
	case err != nil:
		out = append(out, errorf("schema.file_descriptor_set", "file_descriptor_set does not load: %v", err))
	case sc.GetMessageName() == "":
		out = append(out, errorf("schema.message_name", "message_name is empty"))
	default:
		if _, err := schema.Message(files, sc.GetMessageName()); err != nil {
			out = append(out, errorf("schema.message_name", "message_name %q is not a message of file_descriptor_set", sc.GetMessageName()))
		}
	}
	if want := schema.Ref(s.d.GetName(), sc.GetMessageName()); sc.GetSchemaRef() != want {
		out = append(out, errorf("schema.schema_ref", "schema_ref is %q, want %q", sc.GetSchemaRef(), want))
	}
	return out
}

// checkClassification is DP004.
func checkClassification(s *subject) []Finding {
	c := s.d.GetClassification()
	if !schema.AtLeast(c, platformv1.Classification_CLASSIFICATION_PUBLIC) { // unspecified or unknown
		return []Finding{errorf("classification", "classification is %s, want PUBLIC, INTERNAL, CONFIDENTIAL or RESTRICTED", c)}
	}
	most, field := platformv1.Classification_CLASSIFICATION_UNSPECIFIED, ""
	for _, f := range s.fields {
		if fc := schema.EffectiveClassification(f.Desc); !schema.AtLeast(most, fc) {
			most, field = fc, f.Path
		}
	}
	if !schema.AtLeast(c, most) {
		return []Finding{errorf("classification", "classification is %s but payload field %s is %s", short(c), field, short(most))}
	}
	return nil
}

// checkPII is DP005.
func checkPII(s *subject) []Finding {
	var out []Finding
	var marked []string
	for _, f := range s.fields {
		pii, set := schema.PII(f.Desc)
		if pii {
			marked = append(marked, f.Path)
		}
		if set {
			continue
		}
		if why, ok := personal(f); ok {
			out = append(out, errorf("payload."+f.Path, "field %s looks like personal data (%s) but is not marked (mesh.platform.v1.pii)", f.Desc.FullName(), why))
		}
	}
	if len(marked) > 0 && !schema.AtLeast(s.d.GetClassification(), platformv1.Classification_CLASSIFICATION_CONFIDENTIAL) {
		out = append(out, errorf("classification", "payload has PII (%s) but classification is %s, want at least CONFIDENTIAL", strings.Join(marked, ", "), short(s.d.GetClassification())))
	}
	if listed := s.d.GetPiiFields(); len(listed) > 0 && s.schemaErr == nil {
		var paths []string
		for _, p := range listed {
			paths = append(paths, p.GetPath())
		}
		slices.Sort(paths)
		want := slices.Sorted(slices.Values(marked))
		if !slices.Equal(paths, want) {
			out = append(out, errorf("pii_fields", "pii_fields lists [%s], the schema marks [%s]", strings.Join(paths, ", "), strings.Join(want, ", ")))
		}
	}
	return out
}

// short is a classification without its enum prefix, e.g. "CONFIDENTIAL".
func short(c platformv1.Classification) string {
	return strings.TrimPrefix(c.String(), "CLASSIFICATION_")
}
