package contracttest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// WriteText writes r for people: a verdict line, then a line per check with its examples.
func (r Report) WriteText(w io.Writer) error {
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d events (%s) on %s\n", verdict, r.Product, r.Events, r.Window, r.Stream)
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %-11s %s\n", mark, c.Name, c.Summary)
		for _, e := range c.Examples {
			fmt.Fprintf(&b, "         - %s\n", e)
		}
		if more := c.Failed - len(c.Examples); more > 0 && len(c.Examples) > 0 {
			fmt.Fprintf(&b, "         … and %d more\n", more)
		}
		for _, wn := range c.Warnings {
			fmt.Fprintf(&b, "         warning: %s\n", wn)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the reports as one JSON document: {"passed": bool, "reports": [...]}.
func WriteJSON(w io.Writer, reports []Report) error {
	passed := true
	for _, r := range reports {
		passed = passed && r.Passed
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Passed  bool     `json:"passed"`
		Reports []Report `json:"reports"`
	}{passed, reports})
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the reports as JUnit XML: a test suite per product, a test case per check.
func WriteJUnit(w io.Writer, reports []Report) error {
	out := junitSuites{Name: "meshctl contract test"}
	for _, r := range reports {
		s := junitSuite{Name: r.Product, Timestamp: r.At.Format("2006-01-02T15:04:05")}
		for _, c := range r.Checks {
			tc := junitCase{Name: c.Name, Classname: r.Product, SystemOut: strings.Join(append([]string{c.Summary}, c.Warnings...), "\n")}
			if !c.Passed {
				tc.Failure = &junitFailure{Message: c.Summary, Type: c.Name, Body: strings.Join(c.Examples, "\n")}
				s.Failures++
			}
			s.Cases = append(s.Cases, tc)
			s.Tests++
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
