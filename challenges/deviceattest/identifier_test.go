package deviceattest_test

import (
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/deviceattest"
)

func TestParsePermanentIdentifier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value        string
		wantValue    string
		wantAssigner asn1.ObjectIdentifier
		wantDetail   string // empty: valid
	}{
		{value: "ABCDEF123456", wantValue: "ABCDEF123456"},
		{value: "AB12/1.2.3.4", wantValue: "AB12", wantAssigner: asn1.ObjectIdentifier{1, 2, 3, 4}},
		{value: "x/0.39", wantValue: "x", wantAssigner: asn1.ObjectIdentifier{0, 39}},
		{value: "x/2.999.0", wantValue: "x", wantAssigner: asn1.ObjectIdentifier{2, 999, 0}},
		{value: "séri\u00e9 1", wantValue: "séri\u00e9 1"},
		{value: "", wantDetail: "device part is empty"},
		{value: "/1.2.3", wantDetail: "device part is empty"},
		{value: "x/", wantDetail: "not a dotted-decimal OID"},
		{value: "x/1", wantDetail: "not a dotted-decimal OID"},
		{value: "x/1.40", wantDetail: "not a dotted-decimal OID"},
		{value: "x/3.1", wantDetail: "not a dotted-decimal OID"},
		{value: "x/1.02", wantDetail: "not a dotted-decimal OID"},
		{value: "x/1.2.", wantDetail: "not a dotted-decimal OID"},
		{value: "x/1.+2", wantDetail: "not a dotted-decimal OID"},
		{value: "x/1.2/3", wantDetail: "not a dotted-decimal OID"},
		{value: "x/1.2.1234567890", wantDetail: "not a dotted-decimal OID"},
		{value: "\xff\xfe", wantDetail: "not valid UTF-8"},
		{value: strings.Repeat("a", deviceattest.MaxIdentifierLen+1), wantDetail: "longer than"},
	}
	for _, tt := range tests {
		got, err := deviceattest.ParsePermanentIdentifier(tt.value)
		if tt.wantDetail != "" {
			challtest.WantError(t, err, challenges.KindMalformed, tt.wantDetail)
			continue
		}
		if err != nil {
			t.Errorf("ParsePermanentIdentifier(%q): got error %v, want none", tt.value, err)
			continue
		}
		if got.Value != tt.wantValue || !got.Assigner.Equal(tt.wantAssigner) {
			t.Errorf("ParsePermanentIdentifier(%q): got %q, %v; want %q, %v",
				tt.value, got.Value, got.Assigner, tt.wantValue, tt.wantAssigner)
		}
	}
}

func TestParseHardwareModule(t *testing.T) {
	t.Parallel()
	got, err := deviceattest.ParseHardwareModule("ABCD/1.2.3.4")
	if err != nil || got.Serial != "ABCD" || !got.Type.Equal(asn1.ObjectIdentifier{1, 2, 3, 4}) {
		t.Errorf("ParseHardwareModule(\"ABCD/1.2.3.4\"): got %+v, %v; want ABCD and 1.2.3.4", got, err)
	}
	for value, detail := range map[string]string{
		"ABCD":     "hardware type OID is missing",
		"/1.2.3":   "device part is empty",
		"ABCD/1":   "not a dotted-decimal OID",
		"ABCD/1.x": "not a dotted-decimal OID",
	} {
		_, err := deviceattest.ParseHardwareModule(value)
		challtest.WantError(t, err, challenges.KindMalformed, detail)
	}
}
