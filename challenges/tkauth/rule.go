package tkauth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/acmegate/acmegate/challenges"
)

// maxShown bounds how many allowed names a refusal detail lists.
const maxShown = 3

// placeholder finds the {group} references of a template.
var placeholder = regexp.MustCompile(`\{([^{}]*)\}`)

// rule is a compiled [Rule].
type rule struct {
	claim     string
	pattern   *regexp.Regexp
	templates []template
}

// template is one compiled identifier template.
type template struct {
	wildcard bool   // it started with "*."
	text     string // the rest, lower case, with {group} references
}

// compileRule checks r and compiles its pattern, anchored at both ends, and
// its templates.
func compileRule(r Rule) (rule, error) {
	if r.Claim == "" {
		return rule{}, errors.New("empty claim")
	}
	pattern, err := regexp.Compile(`^(?:` + r.Pattern + `)$`)
	if err != nil {
		return rule{}, fmt.Errorf("pattern: %w", err)
	}
	if len(r.Identifiers) == 0 {
		return rule{}, errors.New("no identifier templates")
	}
	out := rule{claim: r.Claim, pattern: pattern}
	for _, text := range r.Identifiers {
		t, err := compileTemplate(text, pattern)
		if err != nil {
			return rule{}, fmt.Errorf("template %q: %w", text, err)
		}
		out.templates = append(out.templates, t)
	}
	return out, nil
}

// compileTemplate checks that every {group} of text is a named group of
// pattern and that text becomes a host name when each is replaced by a
// label.
func compileTemplate(text string, pattern *regexp.Regexp) (template, error) {
	text = strings.ToLower(text)
	rest, wildcard := strings.CutPrefix(text, "*.")
	for _, m := range placeholder.FindAllStringSubmatch(rest, -1) {
		if m[1] == "" || pattern.SubexpIndex(m[1]) < 0 {
			return template{}, fmt.Errorf("{%s} is not a named group of the pattern", m[1])
		}
	}
	if err := challenges.CheckHostName(placeholder.ReplaceAllString(rest, "x")); err != nil {
		return template{}, errors.New("not a host name pattern")
	}
	return template{wildcard: wildcard, text: rest}, nil
}

// expand fills the template with the groups of match. It reports false when
// a group's value is not a single DNS label or the result is not a host
// name.
func (t template) expand(pattern *regexp.Regexp, match []string) (string, bool) {
	ok := true
	name := placeholder.ReplaceAllStringFunc(t.text, func(ref string) string {
		value := strings.ToLower(match[pattern.SubexpIndex(ref[1:len(ref)-1])])
		if !isLabel(value) {
			ok = false
		}
		return value
	})
	if !ok || challenges.CheckHostName(name) != nil {
		return "", false
	}
	return name, true
}

// matches reports whether the expanded template name allows identifier:
// equal to it, or for a wildcard template one label below it.
func (t template) matches(name, identifier string) bool {
	if !t.wildcard {
		return identifier == name
	}
	label, ok := strings.CutSuffix(identifier, "."+name)
	return ok && label != "" && !strings.Contains(label, ".")
}

// show writes an expanded template for a detail.
func (t template) show(name string) string {
	if t.wildcard {
		return "*." + name
	}
	return name
}

// isLabel reports whether s can stand as one label: 1 to 63 lower-case
// letters, digits or hyphens.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// authorize reports whether a rule of the issuer allows identifier for a
// token with these claims. The refusal lists what the token would allow.
func (is *issuer) authorize(claims map[string]any, identifier string) error {
	var allowed []string
	for _, r := range is.rules {
		value, ok := lookupClaim(claims, r.claim).(string)
		if !ok {
			continue
		}
		match := r.pattern.FindStringSubmatch(value)
		if match == nil {
			continue
		}
		for _, t := range r.templates {
			name, ok := t.expand(r.pattern, match)
			if !ok {
				continue
			}
			if t.matches(name, identifier) {
				return nil
			}
			allowed = append(allowed, t.show(name))
		}
	}

	if len(allowed) == 0 {
		return unauthorized("token of issuer %q matches no rule, so it authorizes no identifier",
			is.Name)
	}
	shown := allowed[:min(len(allowed), maxShown)]
	if extra := len(allowed) - len(shown); extra > 0 {
		shown = append(shown, fmt.Sprintf("and %d more", extra))
	}
	return unauthorized("token of issuer %q authorizes %s, not %s",
		is.Name, strings.Join(shown, ", "), identifier)
}

// lookupClaim finds the claim named by path in claims, or nil. The whole
// path is tried as a claim name first, then the longest prefix before a dot
// that names an object, recursively: "kubernetes.io.serviceaccount.name"
// finds {"kubernetes.io": {"serviceaccount": {"name": ...}}}.
func lookupClaim(claims map[string]any, path string) any {
	if v, ok := claims[path]; ok {
		return v
	}
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if sub, ok := claims[path[:i]].(map[string]any); ok {
			if v := lookupClaim(sub, path[i+1:]); v != nil {
				return v
			}
		}
	}
	return nil
}
