package protosrc

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// decls writes messages, then enums, then extensions grouped by the message they extend.
func (p *printer) decls(msgs protoreflect.MessageDescriptors, enums protoreflect.EnumDescriptors, exts protoreflect.ExtensionDescriptors, scope protoreflect.Descriptor) {
	for i := range msgs.Len() {
		if md := msgs.Get(i); !md.IsMapEntry() {
			p.blank()
			p.message(md)
		}
	}
	for i := range enums.Len() {
		p.blank()
		p.enum(enums.Get(i))
	}
	var extendees []protoreflect.FullName
	byExtendee := map[protoreflect.FullName][]protoreflect.ExtensionDescriptor{}
	for i := range exts.Len() {
		xd := exts.Get(i)
		name := xd.ContainingMessage().FullName()
		if _, ok := byExtendee[name]; !ok {
			extendees = append(extendees, name)
		}
		byExtendee[name] = append(byExtendee[name], xd)
	}
	for _, name := range extendees {
		p.blank()
		xs := byExtendee[name]
		p.open("extend %s", p.typeName(xs[0].ContainingMessage(), scope))
		for _, xd := range xs {
			p.field(xd, scope)
		}
		p.close()
	}
}

func (p *printer) message(md protoreflect.MessageDescriptor) {
	p.comments(md)
	p.open("message %s", md.Name())
	for _, o := range p.options(md.Options()) {
		p.line("option %s;", o)
	}
	fields := md.Fields()
	printed := map[protoreflect.OneofDescriptor]bool{}
	for i := range fields.Len() {
		fd := fields.Get(i)
		od := fd.ContainingOneof()
		if od == nil || od.IsSynthetic() {
			p.field(fd, md)
			continue
		}
		if printed[od] {
			continue
		}
		printed[od] = true
		p.comments(od)
		p.open("oneof %s", od.Name())
		for _, o := range p.options(od.Options()) {
			p.line("option %s;", o)
		}
		for j := range od.Fields().Len() {
			p.field(od.Fields().Get(j), md)
		}
		p.close()
	}
	p.reserved(md.ReservedRanges(), md.ReservedNames(), int64(protowire.MaxValidNumber))
	if r := md.ExtensionRanges(); r.Len() > 0 {
		p.line("extensions %s;", ranges(r.Len(), func(i int) (int64, int64) { x := r.Get(i); return int64(x[0]), int64(x[1]) - 1 }, int64(protowire.MaxValidNumber)))
	}
	p.decls(md.Messages(), md.Enums(), md.Extensions(), md)
	p.close()
}

// field writes one field (or extension) declaration of a message in scope.
func (p *printer) field(fd protoreflect.FieldDescriptor, scope protoreflect.Descriptor) {
	p.comments(fd)
	label := ""
	inOneof := fd.ContainingOneof() != nil && !fd.ContainingOneof().IsSynthetic()
	switch {
	case fd.IsMap(), inOneof:
	case fd.Cardinality() == protoreflect.Repeated:
		label = "repeated "
	case fd.HasOptionalKeyword():
		label = "optional "
	case fd.Syntax() == protoreflect.Proto2 && fd.Cardinality() == protoreflect.Required:
		label = "required "
	case fd.Syntax() == protoreflect.Proto2:
		label = "optional "
	}
	typ := p.fieldType(fd, scope)
	if fd.IsMap() {
		typ = fmt.Sprintf("map<%s, %s>", fd.MapKey().Kind(), p.fieldType(fd.MapValue(), scope))
	}
	var opts []string
	if fd.HasDefault() {
		opts = append(opts, "default = "+defaultValue(fd))
	}
	if fd.HasJSONName() && !fd.IsExtension() && fd.JSONName() != jsonCamelCase(string(fd.Name())) {
		opts = append(opts, "json_name = "+strconv.Quote(fd.JSONName()))
	}
	opts = append(opts, p.options(fd.Options())...)
	suffix := ""
	if len(opts) > 0 {
		suffix = " [" + strings.Join(opts, ", ") + "]"
	}
	p.line("%s%s %s = %d%s;%s", label, typ, fd.Name(), fd.Number(), suffix, p.trailing(fd))
}

// fieldType names a field's type as seen from scope.
func (p *printer) fieldType(fd protoreflect.FieldDescriptor, scope protoreflect.Descriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return p.typeName(fd.Message(), scope)
	case protoreflect.EnumKind:
		return p.typeName(fd.Enum(), scope)
	}
	return fd.Kind().String()
}

// typeName names d as seen from scope: the shortest name relative to an enclosing message or
// the file's package that protoc's scope search resolves to d, else the full name, with a
// leading dot when a nearer declaration would capture even that.
func (p *printer) typeName(d protoreflect.Descriptor, scope protoreflect.Descriptor) string {
	full := string(d.FullName())
	for s := scope; s != nil; s = s.Parent() {
		if s.FullName() == "" {
			continue
		}
		if rel, ok := strings.CutPrefix(full, string(s.FullName())+"."); ok && p.resolve(rel, scope) == full {
			return rel
		}
	}
	if p.resolve(full, scope) == full {
		return full
	}
	return "." + full
}

// resolve is the full name protoc gives the relative name, looked up from scope: the
// innermost enclosing message declaring a type named like name's first part, else the
// innermost of the file's package and its parents that has a symbol of that name.
func (p *printer) resolve(name string, scope protoreflect.Descriptor) string {
	first, _, _ := strings.Cut(name, ".")
	for s := scope; s != nil; s = s.Parent() {
		if md, ok := s.(protoreflect.MessageDescriptor); ok {
			if n := protoreflect.Name(first); md.Messages().ByName(n) != nil || md.Enums().ByName(n) != nil {
				return string(md.FullName()) + "." + name
			}
		}
	}
	for pkg := string(p.file.Package()); pkg != ""; {
		if p.exists(pkg + "." + first) {
			return pkg + "." + name
		}
		i := strings.LastIndex(pkg, ".")
		if i < 0 {
			break
		}
		pkg = pkg[:i]
	}
	return name
}

// exists reports whether a type or a package has the full name n in the rendered set.
func (p *printer) exists(n string) bool {
	if _, err := p.files.FindDescriptorByName(protoreflect.FullName(n)); err == nil {
		return true
	}
	return p.packages[n]
}

func (p *printer) enum(ed protoreflect.EnumDescriptor) {
	p.comments(ed)
	p.open("enum %s", ed.Name())
	for _, o := range p.options(ed.Options()) {
		p.line("option %s;", o)
	}
	values := ed.Values()
	for i := range values.Len() {
		v := values.Get(i)
		p.comments(v)
		suffix := ""
		if opts := p.options(v.Options()); len(opts) > 0 {
			suffix = " [" + strings.Join(opts, ", ") + "]"
		}
		p.line("%s = %d%s;%s", v.Name(), v.Number(), suffix, p.trailing(v))
	}
	r := ed.ReservedRanges()
	if r.Len() > 0 {
		p.line("reserved %s;", ranges(r.Len(), func(i int) (int64, int64) { x := r.Get(i); return int64(x[0]), int64(x[1]) }, 1<<31-1))
	}
	p.reservedNames(ed.ReservedNames())
	p.close()
}

// reserved writes a message's reserved field numbers (end-exclusive ranges) and names.
func (p *printer) reserved(r protoreflect.FieldRanges, names protoreflect.Names, maxNumber int64) {
	if r.Len() > 0 {
		p.line("reserved %s;", ranges(r.Len(), func(i int) (int64, int64) { x := r.Get(i); return int64(x[0]), int64(x[1]) - 1 }, maxNumber))
	}
	p.reservedNames(names)
}

func (p *printer) reservedNames(names protoreflect.Names) {
	if names.Len() == 0 {
		return
	}
	parts := make([]string, names.Len())
	for i := range parts {
		parts[i] = strconv.Quote(string(names.Get(i)))
		if p.file.Syntax() == protoreflect.Editions {
			parts[i] = string(names.Get(i)) // editions reserve identifiers, not strings
		}
	}
	p.line("reserved %s;", strings.Join(parts, ", "))
}

// ranges renders n inclusive ranges as "1, 4 to 6, 100 to max".
func ranges(n int, get func(int) (start, end int64), maxNumber int64) string {
	parts := make([]string, n)
	for i := range n {
		start, end := get(i)
		switch {
		case start == end:
			parts[i] = strconv.FormatInt(start, 10)
		case end == maxNumber:
			parts[i] = fmt.Sprintf("%d to max", start)
		default:
			parts[i] = fmt.Sprintf("%d to %d", start, end)
		}
	}
	return strings.Join(parts, ", ")
}

func (p *printer) service(sd protoreflect.ServiceDescriptor) {
	p.comments(sd)
	p.open("service %s", sd.Name())
	for _, o := range p.options(sd.Options()) {
		p.line("option %s;", o)
	}
	methods := sd.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		p.comments(m)
		in, out := p.typeName(m.Input(), sd), p.typeName(m.Output(), sd)
		if m.IsStreamingClient() {
			in = "stream " + in
		}
		if m.IsStreamingServer() {
			out = "stream " + out
		}
		sig := fmt.Sprintf("rpc %s(%s) returns (%s)", m.Name(), in, out)
		opts := p.options(m.Options())
		if len(opts) == 0 {
			p.line("%s;%s", sig, p.trailing(m))
			continue
		}
		p.open("%s", sig)
		for _, o := range opts {
			p.line("option %s;", o)
		}
		p.close()
	}
	p.close()
}

// jsonCamelCase is protoc's default json_name: underscores dropped, the next letter upper.
func jsonCamelCase(name string) string {
	var b strings.Builder
	up := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			up = true
		case up && 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			up = false
		default:
			b.WriteByte(c)
			up = false
		}
	}
	return b.String()
}
