// Package rules holds a data product's data-quality rules: CEL expressions over one event,
// declared with the product, compiled against the payload's schema and evaluated by the SDK on
// publish and on consume, by the catalog at registration (to refuse a rule that does not
// compile) and by `meshctl contract test` over a live stream.
//
// A rule's expression has type bool and sees two variables: `event`, the payload message (its
// fields by their proto names, e.g. event.celsius, event.reading.machine_id), and `key`, the
// subject key. True means the event passes. An expression that fails to evaluate on an event
// (a missing map key, a division by zero) counts as a violation of that rule, with the error
// as its reason.
//
// The same Set works with generated Go types (Compile, from the product's prototype) and with
// dynamic messages decoded from a registered FileDescriptorSet (CompileSchema), so rules run
// identically in a domain service and in tools that only have the catalog's copy of the schema.
package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/errs"
)

// Policy is what the SDK does with an event that fails a rule. Every violation is counted,
// whatever the policy.
type Policy int

// Policies, from strictest to most lenient.
const (
	// Reject: the publisher refuses the event; a consumer that receives one anyway (from an
	// older producer, or a rule added since) dead-letters it.
	Reject Policy = iota + 1
	// DeadLetter: the event is published; consumers dead-letter it with the rule id.
	DeadLetter
	// Count: the event goes through; the violation is only counted.
	Count
)

// String is the policy's lower-case name: reject, dead-letter or count.
func (p Policy) String() string {
	switch p {
	case Reject:
		return "reject"
	case DeadLetter:
		return "dead-letter"
	case Count:
		return "count"
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// ParsePolicy reads a policy name as String writes it.
func ParsePolicy(s string) (Policy, bool) {
	for _, p := range []Policy{Reject, DeadLetter, Count} {
		if p.String() == s {
			return p, true
		}
	}
	return 0, false
}

// Dimensions are the ODCS data-quality dimensions a rule may name.
var Dimensions = []string{"accuracy", "completeness", "conformity", "consistency", "coverage", "timeliness", "uniqueness"}

// Rule is one data-quality rule.
type Rule struct {
	// ID is kebab-case and unique within the product; it names the rule in errors,
	// dead-letter headers and violation counts.
	ID string
	// Description says what the rule checks.
	Description string
	// Expr is the CEL expression, true for an acceptable event.
	Expr string
	// Policy is what happens to an event that fails the rule.
	Policy Policy
	// Dimension is one of Dimensions, or empty.
	Dimension string
}

var kebab = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Violation is one rule an event failed.
type Violation struct {
	Rule Rule
	// Reason is the rule's description, or the evaluation error.
	Reason string
}

// String is "rule <id>: <reason>".
func (v Violation) String() string { return "rule " + v.Rule.ID + ": " + v.Reason }

// Set is a product's compiled rules. The zero Set and a nil *Set hold no rules. A Set is safe
// for concurrent use.
type Set struct {
	message protoreflect.FullName
	rules   []compiled
}

type compiled struct {
	rule Rule
	prg  cel.Program
}

// Compile compiles rules against the payload type of prototype. Every problem is reported as
// one errs.Invalid error with a violation per field, named Rules[i].<Field>.
func Compile(prototype proto.Message, rules []Rule) (*Set, error) {
	if prototype == nil {
		return nil, errs.BadRequest("rules.Compile", errs.Violation{Field: "Message", Description: "a payload prototype is required"})
	}
	md := prototype.ProtoReflect().Descriptor()
	return compile("rules.Compile", md.FullName(), rules, cel.Types(prototype))
}

// CompileSchema compiles rules against message in the FileDescriptorSet fds, for events
// decoded as dynamic messages from the same set.
func CompileSchema(fds *descriptorpb.FileDescriptorSet, message string, rules []Rule) (*Set, error) {
	if fds == nil || message == "" {
		return nil, errs.BadRequest("rules.CompileSchema", errs.Violation{Field: "schema", Description: "a descriptor set and message name are required"})
	}
	return compile("rules.CompileSchema", protoreflect.FullName(message), rules, cel.TypeDescs(fds))
}

func compile(op string, message protoreflect.FullName, rules []Rule, types cel.EnvOption) (*Set, error) {
	s := &Set{message: message}
	if len(rules) == 0 {
		return s, nil
	}
	env, err := cel.NewEnv(types,
		cel.Variable("event", cel.ObjectType(string(message))),
		cel.Variable("key", cel.StringType))
	if err != nil {
		return nil, errs.Errorf(op, errs.Invalid, "CEL environment for %s: %w", message, err)
	}
	var vs []errs.Violation
	seen := map[string]bool{}
	for i, r := range rules {
		field := "Rules[" + strconv.Itoa(i) + "]."
		bad := func(f, format string, args ...any) {
			vs = append(vs, errs.Violation{Field: field + f, Description: fmt.Sprintf(format, args...)})
		}
		switch {
		case !kebab.MatchString(r.ID):
			bad("ID", "%q is not a kebab-case rule id", r.ID)
		case seen[r.ID]:
			bad("ID", "%q is declared twice", r.ID)
		}
		seen[r.ID] = true
		if _, ok := ParsePolicy(r.Policy.String()); !ok {
			bad("Policy", "must be reject, dead-letter or count")
		}
		if r.Dimension != "" && !contains(Dimensions, r.Dimension) {
			bad("Dimension", "%q is not one of %s", r.Dimension, strings.Join(Dimensions, ", "))
		}
		if strings.TrimSpace(r.Expr) == "" {
			bad("Expr", "is required")
			continue
		}
		ast, iss := env.Compile(r.Expr)
		if iss.Err() != nil {
			bad("Expr", "does not compile: %s", oneLine(iss.Err().Error()))
			continue
		}
		if !ast.OutputType().IsExactType(cel.BoolType) {
			bad("Expr", "has type %s, want bool", ast.OutputType())
			continue
		}
		prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			bad("Expr", "does not plan: %s", oneLine(err.Error()))
			continue
		}
		s.rules = append(s.rules, compiled{rule: r, prg: prg})
	}
	if len(vs) > 0 {
		return nil, errs.BadRequest(op, vs...)
	}
	return s, nil
}

// Len is the number of rules.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// Rules returns the rules in declaration order.
func (s *Set) Rules() []Rule {
	if s == nil {
		return nil
	}
	out := make([]Rule, len(s.rules))
	for i, c := range s.rules {
		out[i] = c.rule
	}
	return out
}

// Check evaluates every rule on msg (of the Set's message type, generated or dynamic) with
// the subject key, and returns the rules it fails, in declaration order.
func (s *Set) Check(msg proto.Message, key string) []Violation {
	if s.Len() == 0 {
		return nil
	}
	vars := map[string]any{"event": msg, "key": key}
	var out []Violation
	for _, c := range s.rules {
		val, _, err := c.prg.Eval(vars)
		switch {
		case err != nil:
			out = append(out, Violation{Rule: c.rule, Reason: "evaluation failed: " + oneLine(err.Error())})
		case val != types.True:
			out = append(out, Violation{Rule: c.rule, Reason: reason(c.rule)})
		}
	}
	return out
}

func reason(r Rule) string {
	if r.Description != "" {
		return r.Description
	}
	return "expression " + r.Expr + " is false"
}

// ToProto is rules as the descriptor carries them.
func ToProto(rules []Rule) []*platformv1.QualityRule {
	out := make([]*platformv1.QualityRule, 0, len(rules))
	for _, r := range rules {
		out = append(out, &platformv1.QualityRule{
			Id: r.ID, Description: r.Description, Expression: r.Expr,
			Policy: platformv1.RulePolicy(r.Policy), Dimension: r.Dimension,
		})
	}
	return out
}

// FromProto is the descriptor's rules as Rules; an unspecified or unknown policy is kept as
// is, for Compile to refuse.
func FromProto(rules []*platformv1.QualityRule) []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		out = append(out, Rule{
			ID: r.GetId(), Description: r.GetDescription(), Expr: r.GetExpression(),
			Policy: Policy(r.GetPolicy()), Dimension: r.GetDimension(),
		})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
