package lint

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/rule"
	"meshwork.dev/governance/schema"
)

// payloadPrefix starts the Field of a governance finding about a payload field.
const payloadPrefix = "payload."

// Contracts applies the field-level governance rules to every message declared in a file
// of files whose path starts with prefix (e.g. "mesh/"): each message is checked as if it
// were a product's payload, and the findings about payload fields are kept. A field is
// reported once, with Field its full protobuf name and Source its .proto file, however many
// messages reach it; fields declared outside prefix (well-known types) are not reported.
// It returns the number of messages checked and the findings, ordered by field name.
func Contracts(files *protoregistry.Files, prefix string) (int, []Finding) {
	var msgs []protoreflect.MessageDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(fd.Path(), prefix) {
			msgs = appendMessages(msgs, fd.Messages())
		}
		return true
	})
	slices.SortFunc(msgs, func(a, b protoreflect.MessageDescriptor) int {
		return strings.Compare(string(a.FullName()), string(b.FullName()))
	})
	seen := map[string]bool{}
	var out []Finding
	for _, md := range msgs {
		for _, f := range rule.Check(payloadDescriptor(md)) {
			fd := fieldAt(md, strings.TrimPrefix(f.Field, payloadPrefix))
			if !strings.HasPrefix(f.Field, payloadPrefix) || fd == nil || !strings.HasPrefix(fd.ParentFile().Path(), prefix) {
				continue
			}
			key := f.RuleID + " " + string(fd.FullName())
			if seen[key] {
				continue
			}
			seen[key] = true
			lf := fromRule(fd.ParentFile().Path(), f)
			lf.Field = string(fd.FullName())
			out = append(out, lf)
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return strings.Compare(a.Field, b.Field) })
	return len(msgs), out
}

// appendMessages adds ms and the messages nested in them, leaving out map entries (they
// are checked through the map field's message).
func appendMessages(out []protoreflect.MessageDescriptor, ms protoreflect.MessageDescriptors) []protoreflect.MessageDescriptor {
	for i := range ms.Len() {
		md := ms.Get(i)
		if md.IsMapEntry() {
			continue
		}
		out = append(out, md)
		out = appendMessages(out, md.Messages())
	}
	return out
}

// payloadDescriptor is a descriptor that passes every product-level rule, with md as its
// payload, so that only what the rules find in md's fields remains. It is RESTRICTED so a
// marked pii field does not also trip the product classification check.
func payloadDescriptor(md protoreflect.MessageDescriptor) *platformv1.DataProductDescriptor {
	const name = "lint.contracts.v1"
	return &platformv1.DataProductDescriptor{
		Name:           name,
		Classification: platformv1.Classification_CLASSIFICATION_RESTRICTED,
		Schema:         schema.NewSchema(name, md),
	}
}

// fieldAt resolves a dotted field path from md (map fields continue through their entry
// message), or returns nil.
func fieldAt(md protoreflect.MessageDescriptor, path string) protoreflect.FieldDescriptor {
	var fd protoreflect.FieldDescriptor
	for _, name := range strings.Split(path, ".") {
		if md == nil {
			return nil
		}
		fd = md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil
		}
		md = fd.Message()
	}
	return fd
}
