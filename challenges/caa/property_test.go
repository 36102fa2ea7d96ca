package caa

import (
	"slices"
	"strings"
	"testing"
)

func TestParseIssueValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value      string
		wantOK     bool
		wantIssuer string
		wantParams []parameter
	}{
		{value: "", wantOK: true},
		{value: ";", wantOK: true},
		{value: " \t; \t", wantOK: true},
		{value: "ca.test", wantOK: true, wantIssuer: "ca.test"},
		{value: "  ca.test  ", wantOK: true, wantIssuer: "ca.test"},
		{value: "ca.test;", wantOK: true, wantIssuer: "ca.test"},
		{value: "x-1.ca.test", wantOK: true, wantIssuer: "x-1.ca.test"},
		{
			value:      "ca.test; a=1;B = 2 ; c=",
			wantOK:     true,
			wantIssuer: "ca.test",
			wantParams: []parameter{{"a", "1"}, {"b", "2"}, {"c", ""}},
		},
		{
			value:      "ca.test; accounturi=https://ca.test/acct/1?x=y",
			wantOK:     true,
			wantIssuer: "ca.test",
			wantParams: []parameter{{"accounturi", "https://ca.test/acct/1?x=y"}},
		},
		{value: "; a=1", wantOK: true, wantParams: []parameter{{"a", "1"}}},
		{value: "%%%%%"},
		{value: "ca.test x"},
		{value: "ca.test."},
		{value: "-ca.test"},
		{value: "ca-.test"},
		{value: "ca..test"},
		{value: "ca_x.test"},
		{value: "ca.test; a=1;"},
		{value: "ca.test; a=1;; b=2"},
		{value: "ca.test; a"},
		{value: "ca.test; =1"},
		{value: "ca.test; a=x y"},
		{value: "ca.test; a=\x7f"},
		{value: "ca.test\xff"},
		{value: "ca.tést"},
	}
	for _, tt := range tests {
		iv, ok := parseIssueValue(tt.value)
		if ok != tt.wantOK {
			t.Errorf("parseIssueValue(%q): got ok %v, want %v", tt.value, ok, tt.wantOK)
			continue
		}
		if iv.issuer != tt.wantIssuer || !slices.Equal(iv.params, tt.wantParams) {
			t.Errorf("parseIssueValue(%q): got %q %v, want %q %v",
				tt.value, iv.issuer, iv.params, tt.wantIssuer, tt.wantParams)
		}
	}
}

func TestParseMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value  string
		want   []string
		wantOK bool
	}{
		{"", nil, true},
		{"dns-01", []string{"dns-01"}, true},
		{"dns-01,http-01,ca-foo", []string{"dns-01", "http-01", "ca-foo"}, true},
		{"dns-01,", nil, false},
		{",dns-01", nil, false},
		{"dns-01, http-01", nil, false},
		{"dns_01", nil, false},
	}
	for _, tt := range tests {
		got, ok := parseMethods(tt.value)
		if ok != tt.wantOK || !slices.Equal(got, tt.want) {
			t.Errorf("parseMethods(%q): got %q %v, want %q %v", tt.value, got, ok, tt.want, tt.wantOK)
		}
	}
}

// FuzzIssueValue feeds arbitrary property values to the parser: it must not
// panic, and what it accepts must follow RFC 8659, Section 4.2.
func FuzzIssueValue(f *testing.F) {
	for _, seed := range []string{"ca.test", ";", "ca.test; accounturi=x; validationmethods=dns-01",
		"%%%", "ca.test\xff", " ca.test ; a = b "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		iv, ok := parseIssueValue(value)
		if !ok {
			return
		}
		if iv.issuer != "" && !isDomain(iv.issuer) {
			t.Fatalf("accepted issuer %q, which is not a domain name", iv.issuer)
		}
		for _, p := range iv.params {
			if !isLDH(p.tag) || p.tag != strings.ToLower(p.tag) || !isParamValue(p.value) {
				t.Fatalf("accepted parameter %q=%q outside the grammar", p.tag, p.value)
			}
		}
	})
}
