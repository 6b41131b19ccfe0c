// Package protosrc renders protobuf descriptors back into .proto source text, so the catalog
// can show a product's schema the way its owner wrote it: syntax or edition, package, imports,
// options (go_package, custom options such as [(mesh.platform.v1.pii) = true]), messages with
// nested messages and enums, oneofs, maps, proto3 optional, repeated and proto2 labels,
// defaults, reserved numbers and names, extension ranges, extensions and services. Comments
// come from the files' source code info when it is present (descriptors embedded in generated
// Go code usually have none).
//
// Options are decoded against the process's registered types and the extensions declared in
// the set itself, so custom options of the schema's own files print by name.
package protosrc

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// File is one rendered file.
type File struct {
	// Path is the file's name in the set, e.g. "mesh/quality/v1/events.proto".
	Path string
	// Source is the .proto text.
	Source string
}

// Render renders every file of set, in the set's order. The set must be self-contained (every
// import in it).
func Render(set *descriptorpb.FileDescriptorSet) ([]File, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("protosrc.Render: %w", err)
	}
	res := resolver{local: dynamicpb.NewTypes(files)}
	packages := map[string]bool{}
	for _, f := range set.GetFile() {
		for pkg := f.GetPackage(); pkg != ""; {
			packages[pkg] = true
			i := strings.LastIndex(pkg, ".")
			if i < 0 {
				break
			}
			pkg = pkg[:i]
		}
	}
	out := make([]File, 0, len(set.GetFile()))
	for _, fdp := range set.GetFile() {
		fd, err := files.FindFileByPath(fdp.GetName())
		if err != nil {
			return nil, fmt.Errorf("protosrc.Render: %w", err)
		}
		p := &printer{file: fd, proto: fdp, res: res, files: files, packages: packages}
		p.printFile()
		out = append(out, File{Path: fdp.GetName(), Source: p.b.String()})
	}
	return out, nil
}

// printer writes one file.
type printer struct {
	file     protoreflect.FileDescriptor
	proto    *descriptorpb.FileDescriptorProto
	res      resolver
	files    *protoregistry.Files
	packages map[string]bool // every package of the set and their parents
	b        strings.Builder
	indent   int
}

// line writes one indented line.
func (p *printer) line(format string, args ...any) {
	if format == "" {
		p.b.WriteString("\n")
		return
	}
	p.b.WriteString(strings.Repeat("  ", p.indent))
	fmt.Fprintf(&p.b, format, args...)
	p.b.WriteString("\n")
}

// blank separates declarations with one empty line, never two.
func (p *printer) blank() {
	if s := p.b.String(); s != "" && !strings.HasSuffix(s, "\n\n") && !strings.HasSuffix(s, "{\n") {
		p.b.WriteString("\n")
	}
}

// open starts a block; close ends it.
func (p *printer) open(format string, args ...any) {
	p.line(format+" {", args...)
	p.indent++
}

func (p *printer) close() {
	p.indent--
	p.line("}")
}

// comments writes d's leading comments (detached ones first, each followed by a blank line).
func (p *printer) comments(d protoreflect.Descriptor) {
	loc := p.file.SourceLocations().ByDescriptor(d)
	for _, c := range loc.LeadingDetachedComments {
		p.commentLines(c)
		p.line("")
	}
	p.commentLines(loc.LeadingComments)
}

// trailing returns d's trailing comment as " // text" for the end of its line.
func (p *printer) trailing(d protoreflect.Descriptor) string {
	c := strings.TrimSpace(p.file.SourceLocations().ByDescriptor(d).TrailingComments)
	if c == "" {
		return ""
	}
	return " // " + strings.ReplaceAll(c, "\n", " ")
}

func (p *printer) commentLines(c string) {
	if c == "" {
		return
	}
	for l := range strings.SplitSeq(strings.TrimSuffix(c, "\n"), "\n") {
		p.line("//%s", strings.TrimRight(l, " "))
	}
}

// pathComments writes the leading comments of the file element at path (syntax, package).
func (p *printer) pathComments(path ...int32) {
	loc := p.file.SourceLocations().ByPath(protoreflect.SourcePath(path))
	for _, c := range loc.LeadingDetachedComments {
		p.commentLines(c)
		p.line("")
	}
	p.commentLines(loc.LeadingComments)
}

// Field numbers of FileDescriptorProto, for source locations.
const (
	packagePath = 2
	syntaxPath  = 12
)

func (p *printer) printFile() {
	p.pathComments(syntaxPath)
	switch p.proto.GetSyntax() {
	case "proto3":
		p.line(`syntax = "proto3";`)
	case "editions":
		p.line(`edition = "%s";`, strings.TrimPrefix(p.proto.GetEdition().String(), "EDITION_"))
	default:
		p.line(`syntax = "proto2";`)
	}
	if pkg := p.file.Package(); pkg != "" {
		p.blank()
		p.pathComments(packagePath)
		p.line("package %s;", pkg)
	}
	if imports := p.file.Imports(); imports.Len() > 0 {
		p.blank()
		for i := range imports.Len() {
			imp := imports.Get(i)
			kind := ""
			switch {
			case imp.IsPublic:
				kind = "public "
			case imp.IsWeak:
				kind = "weak "
			}
			p.line(`import %s%q;`, kind, imp.Path())
		}
	}
	if opts := p.options(p.file.Options()); len(opts) > 0 {
		p.blank()
		for _, o := range opts {
			p.line("option %s;", o)
		}
	}
	p.decls(p.file.Messages(), p.file.Enums(), p.file.Extensions(), p.file)
	services := p.file.Services()
	for i := range services.Len() {
		p.blank()
		p.service(services.Get(i))
	}
}
