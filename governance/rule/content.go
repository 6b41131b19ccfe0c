package rule

import (
	"strings"
	"unicode/utf8"
)

// minDescription is the length below which a description is trivially short.
const minDescription = 20

// checkOwnership is DP002.
func checkOwnership(s *subject) []Finding {
	var out []Finding
	if strings.TrimSpace(s.d.GetOwner()) == "" {
		out = append(out, errorf("owner", "owner is empty"))
	}
	if strings.TrimSpace(s.d.GetContact()) == "" {
		out = append(out, errorf("contact", "contact is empty"))
	}
	return out
}

// checkDescription is DP003.
func checkDescription(s *subject) []Finding {
	desc := strings.TrimSpace(s.d.GetDescription())
	switch n := utf8.RuneCountInString(desc); {
	case n == 0:
		return []Finding{errorf("description", "description is empty")}
	case n < minDescription:
		return []Finding{warnf("description", "description %q is %d characters, want at least %d", desc, n, minDescription)}
	}
	return nil
}

// checkFreshness is DP006.
func checkFreshness(s *subject) []Finding {
	f := s.d.GetFreshnessObjective()
	switch {
	case f == nil:
		return []Finding{errorf("freshness_objective", "freshness_objective is not set")}
	case f.CheckValid() != nil:
		return []Finding{errorf("freshness_objective", "freshness_objective is invalid: %v", f.CheckValid())}
	case f.AsDuration() <= 0:
		return []Finding{errorf("freshness_objective", "freshness_objective is %v, want > 0", f.AsDuration())}
	}
	return nil
}
