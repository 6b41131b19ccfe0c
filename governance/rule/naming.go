package rule

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Name is a parsed product id "<domain>.<product>.v<major>".
type Name struct {
	// Domain is lower-case letters and digits, starting with a letter.
	Domain string
	// Product is kebab-case: lower-case words of letters and digits joined by single dashes.
	Product string
	// Major is at least 1.
	Major uint32
}

// String is the product id.
func (n Name) String() string { return fmt.Sprintf("%s.%s.v%d", n.Domain, n.Product, n.Major) }

// SubjectPrefix is the prefix of every subject of the product, ending with a dot:
// "dp.<domain>.<product>.v<major>.".
func (n Name) SubjectPrefix() string { return "dp." + n.String() + "." }

// ErrName reports a malformed product id.
var ErrName = errors.New("product id is not <domain>.<product>.v<major>")

var nameRE = regexp.MustCompile(`^([a-z][a-z0-9]*)\.([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\.v([1-9][0-9]*)$`)

// ParseName parses a product id such as "quality.clean-readings.v1".
func ParseName(id string) (Name, error) {
	const op = "rule.ParseName"
	m := nameRE.FindStringSubmatch(id)
	if m == nil {
		return Name{}, fmt.Errorf("%s: %q: %w", op, id, ErrName)
	}
	major, err := strconv.ParseUint(m[3], 10, 32)
	if err != nil {
		return Name{}, fmt.Errorf("%s: %q: major version: %w", op, id, ErrName)
	}
	return Name{Domain: m[1], Product: m[2], Major: uint32(major)}, nil
}

// checkName is DP001.
func checkName(s *subject) []Finding {
	d := s.d
	if d.GetName() == "" {
		return []Finding{errorf("name", "name is empty")}
	}
	if s.nameErr != nil {
		return []Finding{errorf("name", "name %q is not <domain>.<product>.v<major> (lower-case domain, kebab-case product, major >= 1)", d.GetName())}
	}
	var out []Finding
	if d.GetDomain() != s.name.Domain {
		out = append(out, errorf("domain", "domain is %q, name says %q", d.GetDomain(), s.name.Domain))
	}
	if d.GetProduct() != s.name.Product {
		out = append(out, errorf("product", "product is %q, name says %q", d.GetProduct(), s.name.Product))
	}
	if d.GetMajorVersion() != s.name.Major {
		out = append(out, errorf("major_version", "major_version is %d, name says %d", d.GetMajorVersion(), s.name.Major))
	}
	return out
}

// checkSubjects is DP008. Subjects are only checked against a name that parses (DP001
// reports the name otherwise).
func checkSubjects(s *subject) []Finding {
	var out []Finding
	if stream := s.d.GetStream(); stream == "" {
		out = append(out, errorf("stream", "stream is empty"))
	} else if !validStreamName(stream) {
		out = append(out, errorf("stream", "stream %q is not a valid JetStream name (no dots, wildcards, slashes or spaces)", stream))
	}
	if s.nameErr != nil {
		return out
	}
	prefix := s.name.SubjectPrefix()
	if len(s.d.GetSubjects()) == 0 {
		return append(out, errorf("subjects", "no subjects, want [%q]", prefix+">"))
	}
	for i, subj := range s.d.GetSubjects() {
		rest, ok := strings.CutPrefix(subj, prefix)
		if !ok || !validSubjectTail(rest) {
			out = append(out, errorf(fmt.Sprintf("subjects[%d]", i), "subject %q is not %q nor under that prefix", subj, prefix+">"))
		}
	}
	return out
}

// validSubjectTail reports whether tail is one or more NATS subject tokens, wildcards only
// as whole tokens and ">" only last.
func validSubjectTail(tail string) bool {
	tokens := strings.Split(tail, ".")
	for i, t := range tokens {
		switch {
		case t == "" || strings.ContainsFunc(t, unicode.IsSpace):
			return false
		case t == ">":
			if i != len(tokens)-1 {
				return false
			}
		case t == "*":
		case strings.ContainsAny(t, "*>"):
			return false
		}
	}
	return true
}

// validStreamName reports whether name is a usable JetStream stream name.
func validStreamName(name string) bool {
	return len(name) <= 255 && !strings.ContainsAny(name, ".*>/\\") && !strings.ContainsFunc(name, unicode.IsSpace)
}

// checkUpstreams is DP009.
func checkUpstreams(s *subject) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for i, up := range s.d.GetUpstreams() {
		field := fmt.Sprintf("upstreams[%d]", i)
		switch {
		case up == s.d.GetName():
			out = append(out, errorf(field, "upstream %q is the product itself", up))
		case seen[up]:
			out = append(out, warnf(field, "upstream %q is listed more than once", up))
		default:
			if _, err := ParseName(up); err != nil {
				out = append(out, errorf(field, "upstream %q is not a product id <domain>.<product>.v<major>", up))
			}
		}
		seen[up] = true
	}
	return out
}

// checkPayloadPackage is DP010. The major comes from the name, or from major_version when
// the name does not parse; with neither, DP001 says enough.
func checkPayloadPackage(s *subject) []Finding {
	if s.schemaErr != nil {
		return nil
	}
	major := s.name.Major
	if s.nameErr != nil {
		major = s.d.GetMajorVersion()
	}
	if major == 0 {
		return nil
	}
	pkg := string(s.payload.Message.ParentFile().Package())
	want := fmt.Sprintf(".v%d", major)
	if !strings.HasSuffix(pkg, want) {
		return []Finding{errorf("schema.message_name", "payload %s is in package %q, which does not end in %q", s.payload.Message.FullName(), pkg, want)}
	}
	return nil
}
