// Package schema resolves a data product's payload schema (a FileDescriptorSet plus a message
// name) into protobuf descriptors and reads the Meshwork governance options (pii,
// classification) from them. It does no I/O: everything comes from the descriptors passed in.
package schema

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// ErrEmpty reports a schema without files or without a payload message name.
var ErrEmpty = errors.New("empty schema")

// Payload is a data product schema resolved against its own files: only the files of the
// FileDescriptorSet are consulted, never the global registry, so a schema that loads here is
// self-contained.
type Payload struct {
	// Files holds every file of the set.
	Files *protoregistry.Files
	// Message is the payload message.
	Message protoreflect.MessageDescriptor
}

// NewFiles builds a registry from set. The files may come in any order but every import
// must be in the set.
func NewFiles(set *descriptorpb.FileDescriptorSet) (*protoregistry.Files, error) {
	const op = "schema.NewFiles"
	if len(set.GetFile()) == 0 {
		return nil, fmt.Errorf("%s: file descriptor set: %w", op, ErrEmpty)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return files, nil
}

// Message resolves the message called name in files.
func Message(files *protoregistry.Files, name string) (protoreflect.MessageDescriptor, error) {
	const op = "schema.Message"
	if name == "" {
		return nil, fmt.Errorf("%s: message name: %w", op, ErrEmpty)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", op, name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s: %q is not a message", op, name)
	}
	return md, nil
}

// Load resolves s: its files and its payload message.
func Load(s *platformv1.Schema) (*Payload, error) {
	const op = "schema.Load"
	files, err := NewFiles(s.GetFileDescriptorSet())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	md, err := Message(files, s.GetMessageName())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &Payload{Files: files, Message: md}, nil
}

// Field is a field reachable from the payload message.
type Field struct {
	// Path is the dotted path of field names from the payload message, e.g. "user.email".
	// Map fields continue through their entry: "labels.value.email".
	Path string
	// Parent is the name of the field holding the declaring message ("" at the top level).
	Parent string
	// Desc is the field.
	Desc protoreflect.FieldDescriptor
}

// Fields lists every field reachable from the payload message, breadth first in declaration
// order. Each message is walked once, at the first (shortest) path that reaches it, so
// recursive schemas terminate and each declared field appears exactly once.
func (p *Payload) Fields() []Field {
	type todo struct {
		md     protoreflect.MessageDescriptor
		path   string
		parent string
	}
	seen := map[protoreflect.FullName]bool{p.Message.FullName(): true}
	queue := []todo{{md: p.Message}}
	var out []Field
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		fields := t.md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			path := string(fd.Name())
			if t.path != "" {
				path = t.path + "." + path
			}
			out = append(out, Field{Path: path, Parent: t.parent, Desc: fd})
			if md := fd.Message(); md != nil && !seen[md.FullName()] {
				seen[md.FullName()] = true
				queue = append(queue, todo{md: md, path: path, parent: string(fd.Name())})
			}
		}
	}
	return out
}

// FileDescriptorSet returns fd and all its transitive imports as a set, imports before the
// files that import them. It is how a producer builds its Schema from generated code.
func FileDescriptorSet(fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imports := f.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(fd)
	return set
}

// NewSchema returns the Schema of the payload message md for product id productID, with
// the schema reference of architecture §3.
func NewSchema(productID string, md protoreflect.MessageDescriptor) *platformv1.Schema {
	return &platformv1.Schema{
		FileDescriptorSet: FileDescriptorSet(md.ParentFile()),
		MessageName:       string(md.FullName()),
		SchemaRef:         Ref(productID, string(md.FullName())),
	}
}

// Ref is the schema reference of a product's payload, sent as the ce-dataschema header:
// "urn:meshwork:schema:<product id>:<message name>".
func Ref(productID, messageName string) string {
	return "urn:meshwork:schema:" + productID + ":" + messageName
}

// classifications lists the classifications from least to most sensitive.
var classifications = []platformv1.Classification{
	platformv1.Classification_CLASSIFICATION_UNSPECIFIED,
	platformv1.Classification_CLASSIFICATION_PUBLIC,
	platformv1.Classification_CLASSIFICATION_INTERNAL,
	platformv1.Classification_CLASSIFICATION_CONFIDENTIAL,
	platformv1.Classification_CLASSIFICATION_RESTRICTED,
}

// AtLeast reports whether c is as sensitive as floor or more. Unknown values rank below
// UNSPECIFIED, so they never satisfy a minimum.
func AtLeast(c, floor platformv1.Classification) bool {
	return slices.Index(classifications, c) >= slices.Index(classifications, floor)
}
