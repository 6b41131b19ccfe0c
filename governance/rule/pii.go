package rule

import (
	"slices"
	"strings"
	"unicode"

	"google.golang.org/protobuf/reflect/protoreflect"

	"meshwork.dev/governance/schema"
)

// The DP005 heuristics. A field name is split into lower-case words at underscores
// ("home_address" -> home, address); message names at case changes ("ServiceEngineer" ->
// service, engineer). Bool and enum fields are never candidates: they cannot identify
// anyone. These lists are rendered into the docs by Markdown.
var (
	// piiWords flag a field when any word of its name is one of them.
	piiWords = []string{
		"address", "addresses", "birth", "birthdate", "birthday", "displayname", "dob",
		"email", "emails", "firstname", "fullname", "iban", "ip", "lastname", "msisdn",
		"passport", "phone", "phones", "postcode", "ssn", "street", "surname", "telephone",
		"username", "usernames", "zip", "zipcode",
	}
	// piiPhrases flag a field when its name contains them as consecutive words.
	piiPhrases = []string{
		"bank_account", "card_number", "display_name", "driver_license", "driving_licence",
		"e_mail", "family_name", "first_name", "full_name", "given_name", "last_name",
		"login_name", "maiden_name", "middle_name", "mobile_number", "mobile_phone",
		"national_id", "national_insurance", "postal_code", "social_security", "tax_id",
		"user_name",
	}
	// piiNames flag a field whose whole name is one of them.
	piiNames = []string{"initials", "login", "login_id", "mobile", "nickname"}
	// personNames flag a field whose whole name is one of them when it sits in a person:
	// its message's name or the field holding the message has a word from personWords.
	personNames = []string{"name"}
	// personWords mark a message as describing a person.
	personWords = []string{
		"assignee", "author", "contact", "customer", "driver", "employee", "engineer",
		"member", "operator", "owner", "passenger", "patient", "person", "people",
		"profile", "recipient", "reporter", "sender", "staff", "subscriber", "technician",
		"user",
	}
	// notPIIPhrases clear a field that a word above flagged: addresses of machines.
	notPIIPhrases = []string{
		"bind_address", "broker_address", "endpoint_address", "host_address",
		"listen_address", "mac_address", "network_address", "node_address", "server_address",
	}
)

// personal reports whether field f looks like it can identify a person, and why.
func personal(f schema.Field) (string, bool) {
	if k := f.Desc.Kind(); k == protoreflect.BoolKind || k == protoreflect.EnumKind {
		return "", false
	}
	name := strings.ToLower(string(f.Desc.Name()))
	words := strings.FieldsFunc(name, func(r rune) bool { return r == '_' })
	for _, p := range notPIIPhrases {
		if hasPhrase(words, p) {
			return "", false
		}
	}
	if slices.Contains(piiNames, name) {
		return "name " + name, true
	}
	for _, w := range words {
		if slices.Contains(piiWords, w) {
			return "word " + w, true
		}
	}
	for _, p := range piiPhrases {
		if hasPhrase(words, p) {
			return "words " + p, true
		}
	}
	if slices.Contains(personNames, name) {
		msg := string(f.Desc.ContainingMessage().Name())
		if w, ok := personWord(camelWords(msg)); ok {
			return name + " in message " + msg + " (" + w + ")", true
		}
		if w, ok := personWord(strings.Split(strings.ToLower(f.Parent), "_")); ok {
			return name + " in field " + f.Parent + " (" + w + ")", true
		}
	}
	return "", false
}

// hasPhrase reports whether words contains the underscore-joined phrase as consecutive words.
func hasPhrase(words []string, phrase string) bool {
	p := strings.Split(phrase, "_")
	for i := 0; i+len(p) <= len(words); i++ {
		if slices.Equal(words[i:i+len(p)], p) {
			return true
		}
	}
	return false
}

// personWord returns the first of words that is a person word, plurals included.
func personWord(words []string) (string, bool) {
	for _, w := range words {
		if slices.Contains(personWords, w) || slices.Contains(personWords, strings.TrimSuffix(w, "s")) {
			return w, true
		}
	}
	return "", false
}

// camelWords splits a CamelCase name into lower-case words: "ServiceEngineer" ->
// service, engineer; "HTTPUser" -> httpuser is avoided by also splitting before an upper
// case letter followed by a lower case one: http, user.
func camelWords(name string) []string {
	rs := []rune(name)
	var words []string
	start := 0
	for i := 1; i < len(rs); i++ {
		prev, cur := rs[i-1], rs[i]
		next := rune(0)
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		boundary := unicode.IsUpper(cur) && (unicode.IsLower(prev) || unicode.IsDigit(prev) ||
			(unicode.IsUpper(prev) && unicode.IsLower(next)))
		if boundary || cur == '_' {
			words = append(words, strings.ToLower(strings.Trim(string(rs[start:i]), "_")))
			start = i
		}
	}
	words = append(words, strings.ToLower(strings.Trim(string(rs[start:]), "_")))
	return slices.DeleteFunc(words, func(w string) bool { return w == "" })
}
