package deviceattest

import (
	"encoding/asn1"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/acmegate/acmegate/challenges"
)

// Identifier types introduced by draft-ietf-acme-device-attest-09,
// Sections 3 and 4, as they appear on the wire.
const (
	IdentifierPermanent      = "permanent-identifier"
	IdentifierHardwareModule = "hardware-module"
)

// MaxIdentifierLen bounds the value of a permanent-identifier or
// hardware-module identifier, in bytes. The draft sets no limit; device
// serial numbers and UDIDs are far shorter.
const MaxIdentifierLen = 255

// PermanentIdentifier is the parsed value of a permanent-identifier
// identifier: "<value>" or "<value>/<assigner OID>"
// (draft-ietf-acme-device-attest-09, Section 3.1).
type PermanentIdentifier struct {
	// Value is the device identifier, without the assigner.
	Value string
	// Assigner is the OID of the assigning authority; nil when absent.
	Assigner asn1.ObjectIdentifier
}

// HardwareModule is the parsed value of a hardware-module identifier:
// "<serial>/<hardware type OID>" (draft-ietf-acme-device-attest-09,
// Section 4.1).
type HardwareModule struct {
	// Serial is the hardware module serial number.
	Serial string
	// Type is the OID naming the type of hardware module.
	Type asn1.ObjectIdentifier
}

// ParsePermanentIdentifier parses the value of a permanent-identifier
// identifier. It returns a *[challenges.Error] of kind
// [challenges.KindMalformed] unless the value is valid UTF-8 of at most
// [MaxIdentifierLen] bytes and matches the permanent-identifier-value rule
// of draft-ietf-acme-device-attest-09, Section 3.1. The state machine can
// use it to check newOrder identifiers, which that section requires.
func ParsePermanentIdentifier(value string) (PermanentIdentifier, error) {
	device, assigner, hasAssigner := strings.Cut(value, "/")
	if err := checkIdentifierValue(value, device); err != nil {
		return PermanentIdentifier{}, err
	}
	id := PermanentIdentifier{Value: device}
	if !hasAssigner {
		return id, nil
	}
	oid, ok := parseDottedOID(assigner)
	if !ok {
		return PermanentIdentifier{}, malformedIdentifier(value,
			"the assigner is not a dotted-decimal OID")
	}
	id.Assigner = oid
	return id, nil
}

// ParseHardwareModule parses the value of a hardware-module identifier. It
// returns a *[challenges.Error] of kind [challenges.KindMalformed] unless the
// value is valid UTF-8 of at most [MaxIdentifierLen] bytes and matches the
// hardware-module-value rule of draft-ietf-acme-device-attest-09,
// Section 4.1 (the type OID is mandatory).
func ParseHardwareModule(value string) (HardwareModule, error) {
	serial, hwType, hasType := strings.Cut(value, "/")
	if err := checkIdentifierValue(value, serial); err != nil {
		return HardwareModule{}, err
	}
	if !hasType {
		return HardwareModule{}, malformedIdentifier(value, "the hardware type OID is missing")
	}
	oid, ok := parseDottedOID(hwType)
	if !ok {
		return HardwareModule{}, malformedIdentifier(value,
			"the hardware type is not a dotted-decimal OID")
	}
	return HardwareModule{Serial: serial, Type: oid}, nil
}

// checkIdentifierValue checks the whole value and its part before the
// first slash, the device or serial part.
func checkIdentifierValue(whole, first string) error {
	switch {
	case len(whole) > MaxIdentifierLen:
		return malformedIdentifier(whole, "longer than "+strconv.Itoa(MaxIdentifierLen)+" bytes")
	case !utf8.ValidString(whole):
		return malformedIdentifier(whole, "not valid UTF-8")
	case first == "":
		// draft-ietf-acme-device-attest-09, Section 3.1: at least one
		// character before the optional slash.
		return malformedIdentifier(whole, "the device part is empty")
	}
	return nil
}

func malformedIdentifier(value, why string) error {
	return challenges.Errorf(challenges.KindMalformed, "invalid device identifier %q: %s",
		challenges.Excerpt(value, 64), why)
}

// parseDottedOID parses an OID in the dotted-decimal form of the
// assigner-value rule (draft-ietf-acme-device-attest-09, Section 3.1): at
// least two arcs, no leading zeros, a first arc of 0, 1 or 2, and a second
// arc below 40 under the first two.
func parseDottedOID(s string) (asn1.ObjectIdentifier, bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 64 {
		return nil, false
	}
	oid := make(asn1.ObjectIdentifier, 0, len(parts))
	for _, p := range parts {
		// component = "0" / (%x31-39 *%x30-39); nine digits keep an
		// arc within int32.
		if p == "" || len(p) > 9 || (len(p) > 1 && p[0] == '0') || !allDigits(p) {
			return nil, false
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		oid = append(oid, n)
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, false
	}
	return oid, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
