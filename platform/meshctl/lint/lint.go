// Package lint runs Meshwork's governance rules (meshwork.dev/governance/rule) offline, as
// `meshctl lint` does: over data product descriptor files, over descriptors fetched from a
// catalog, and over the protobuf messages compiled into the contracts module, where the
// field-level rules (personal data must be marked pii) apply to every message.
//
// It only reads what it is given; finding a problem is a result, not an error.
package lint

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/rule"
)

// Finding is one rule violation and where it was found.
type Finding struct {
	// Source is what was checked: a descriptor file, "catalog:<product id>", or the .proto
	// file declaring a contracts field.
	Source string `json:"source"`
	// Rule is the rule id, e.g. "DP005".
	Rule string `json:"rule"`
	// Severity is "error" (blocks registration) or "warning".
	Severity rule.Severity `json:"severity"`
	// Field is the descriptor field or, for contracts, the full name of the protobuf field.
	Field string `json:"field"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Hint says how to fix it.
	Hint string `json:"hint"`
}

// HasErrors reports whether any finding has error severity.
func HasErrors(findings []Finding) bool {
	return slices.ContainsFunc(findings, func(f Finding) bool { return f.Severity == rule.Error })
}

// Descriptor runs rule.Check over d and labels the findings with source.
func Descriptor(source string, d *platformv1.DataProductDescriptor) []Finding {
	var out []Finding
	for _, f := range rule.Check(d) {
		out = append(out, fromRule(source, f))
	}
	return out
}

// fromRule labels a governance finding with its source.
func fromRule(source string, f rule.Finding) Finding {
	return Finding{Source: source, Rule: f.RuleID, Severity: f.Severity, Field: f.Field, Message: f.Message, Hint: f.Hint}
}

// ReadDescriptor reads one descriptor file: protojson when its name ends in .json, binary
// protobuf when it ends in .binpb (or .pb). Unknown JSON fields are an error, so a typo in
// a field name does not pass silently.
func ReadDescriptor(path string) (*platformv1.DataProductDescriptor, error) {
	const op = "lint.ReadDescriptor"
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	d := &platformv1.DataProductDescriptor{}
	switch ext := filepath.Ext(path); ext {
	case ".json":
		err = protojson.Unmarshal(b, d)
	case ".binpb", ".pb":
		err = proto.Unmarshal(b, d)
	default:
		return nil, fmt.Errorf("%s: %s: unknown extension %q (want .json or .binpb)", op, path, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", op, path, err)
	}
	return d, nil
}

// DescriptorFiles expands paths into descriptor files: a file stands for itself, whatever
// its name; a directory for every *.json and *.binpb file under it, in lexical order.
func DescriptorFiles(paths []string) ([]string, error) {
	const op = "lint.DescriptorFiles"
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".binpb")) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return out, nil
}

// Files checks every descriptor file DescriptorFiles finds under paths. It returns the
// number of descriptors checked and their findings, or the first file that cannot be read.
func Files(paths []string) (int, []Finding, error) {
	files, err := DescriptorFiles(paths)
	if err != nil {
		return 0, nil, err
	}
	var out []Finding
	for _, f := range files {
		d, err := ReadDescriptor(f)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, Descriptor(f, d)...)
	}
	return len(files), out, nil
}
