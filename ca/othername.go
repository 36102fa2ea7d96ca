package ca

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
)

// PermanentIdentifier is the otherName of RFC 4043: a device identifier
// and, optionally, the OID of the authority that assigned it.
type PermanentIdentifier struct {
	Value    string
	Assigner asn1.ObjectIdentifier
}

// HardwareModule is the HardwareModuleName otherName of RFC 4108,
// Section 5: the type of a hardware module and its serial number.
type HardwareModule struct {
	Type   asn1.ObjectIdentifier
	Serial []byte
}

// hardwareModuleValue is the HardwareModuleName SEQUENCE of RFC 4108.
type hardwareModuleValue struct {
	HWType      asn1.ObjectIdentifier
	HWSerialNum []byte
}

var (
	// oidHardwareModuleName is id-on-hardwareModuleName (RFC 4108,
	// Section 5).
	oidHardwareModuleName = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 4}
	// oidSANExtension is id-ce-subjectAltName (RFC 5280, Section 4.2.1.6).
	oidSANExtension = asn1.ObjectIdentifier{2, 5, 29, 17}
	// oidPermanentIdentifier is id-on-permanentIdentifier (RFC 4043,
	// Section 2).
	oidPermanentIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 3}
)

// permanentIdentifierValue is the PermanentIdentifier SEQUENCE of RFC 4043.
type permanentIdentifierValue struct {
	IdentifierValue string                `asn1:"utf8,optional"`
	Assigner        asn1.ObjectIdentifier `asn1:"optional"`
}

// otherName is the otherName CHOICE of GeneralName (RFC 5280,
// Section 4.2.1.6), with its value explicitly tagged [0].
type otherName struct {
	TypeID asn1.ObjectIdentifier
	Value  asn1.RawValue
}

// sanExtension encodes a subjectAltName holding DNS names, IP addresses,
// permanent identifiers and hardware module names. It is critical when the
// subject is empty (RFC 5280, Section 4.2.1.6).
func sanExtension(dns []string, ips []net.IP, perms []PermanentIdentifier, hws []HardwareModule,
	critical bool) (pkix.Extension, error) {
	var names []asn1.RawValue
	for _, d := range dns {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, ip := range ips {
		b := ip.To4()
		if b == nil {
			b = ip.To16()
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: b})
	}
	for _, p := range perms {
		on, err := otherNameOf(oidPermanentIdentifier,
			permanentIdentifierValue{IdentifierValue: p.Value, Assigner: p.Assigner})
		if err != nil {
			return pkix.Extension{}, err
		}
		names = append(names, on)
	}
	for _, h := range hws {
		on, err := otherNameOf(oidHardwareModuleName,
			hardwareModuleValue{HWType: h.Type, HWSerialNum: h.Serial})
		if err != nil {
			return pkix.Extension{}, err
		}
		names = append(names, on)
	}
	value, err := asn1.Marshal(names)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encoding subjectAltName: %w", err)
	}
	return pkix.Extension{Id: oidSANExtension, Critical: critical, Value: value}, nil
}

// otherNameOf encodes value as an otherName GeneralName of type typeID.
func otherNameOf(typeID asn1.ObjectIdentifier, value any) (asn1.RawValue, error) {
	inner, err := asn1.Marshal(value)
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("encoding otherName %v: %w", typeID, err)
	}
	on, err := asn1.Marshal(otherName{TypeID: typeID, Value: asn1.RawValue{FullBytes: mustExplicit(inner)}})
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("encoding otherName: %w", err)
	}
	// otherName is [0] IMPLICIT in GeneralName: replace the SEQUENCE tag
	// with a constructed context-specific 0.
	on[0] = 0xa0
	return asn1.RawValue{FullBytes: on}, nil
}

// mustExplicit wraps DER in an explicit [0] tag.
func mustExplicit(inner []byte) []byte {
	b, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0,
		IsCompound: true, Bytes: inner})
	if err != nil {
		panic(fmt.Sprintf("ca: wrapping %d bytes in a tag: %v", len(inner), err))
	}
	return b
}
