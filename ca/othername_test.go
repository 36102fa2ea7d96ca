package ca

import (
	"encoding/asn1"
	"net"
	"testing"
)

// TestSANExtensionPermanentIdentifier decodes the extension back and finds
// the DNS name, the IP and the RFC 4043 otherName with its assigner.
func TestSANExtensionPermanentIdentifier(t *testing.T) {
	t.Parallel()
	assigner := asn1.ObjectIdentifier{1, 2, 3, 4}
	ext, err := sanExtension([]string{"dev.example.com"}, []net.IP{net.ParseIP("192.0.2.1")},
		[]PermanentIdentifier{{Value: "SERIAL123", Assigner: assigner}}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ext.Id.Equal(oidSANExtension) || !ext.Critical {
		t.Fatalf("got extension %v critical %v, want a critical subjectAltName", ext.Id, ext.Critical)
	}
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) != 0 {
		t.Fatalf("decoding GeneralNames: %v (rest %d)", err, len(rest))
	}
	if len(names) != 3 {
		t.Fatalf("got %d general names, want 3", len(names))
	}
	if names[0].Tag != 2 || string(names[0].Bytes) != "dev.example.com" {
		t.Errorf("dNSName: got tag %d %q", names[0].Tag, names[0].Bytes)
	}
	if names[1].Tag != 7 || net.IP(names[1].Bytes).String() != "192.0.2.1" {
		t.Errorf("iPAddress: got tag %d %v", names[1].Tag, names[1].Bytes)
	}
	on := names[2]
	if on.Class != asn1.ClassContextSpecific || on.Tag != 0 || !on.IsCompound {
		t.Fatalf("otherName: got class %d tag %d compound %v", on.Class, on.Tag, on.IsCompound)
	}
	var typeID asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(on.Bytes, &typeID)
	if err != nil || !typeID.Equal(oidPermanentIdentifier) {
		t.Fatalf("otherName type: got %v, %v; want %v", typeID, err, oidPermanentIdentifier)
	}
	var explicit asn1.RawValue
	if _, err := asn1.Unmarshal(rest, &explicit); err != nil || explicit.Tag != 0 {
		t.Fatalf("otherName value: %v tag %d", err, explicit.Tag)
	}
	var pid permanentIdentifierValue
	if _, err := asn1.Unmarshal(explicit.Bytes, &pid); err != nil {
		t.Fatal(err)
	}
	if pid.IdentifierValue != "SERIAL123" || !pid.Assigner.Equal(assigner) {
		t.Fatalf("got %+v, want SERIAL123 assigned by %v", pid, assigner)
	}
}

// TestSANExtensionHardwareModule decodes an RFC 4108 HardwareModuleName
// back out of the extension.
func TestSANExtensionHardwareModule(t *testing.T) {
	t.Parallel()
	hwType := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
	ext, err := sanExtension(nil, nil, nil, []HardwareModule{{Type: hwType, Serial: []byte("HSM-42")}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var names []asn1.RawValue
	if _, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(names) != 1 {
		t.Fatalf("got %d names, %v; want 1", len(names), err)
	}
	var typeID asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(names[0].Bytes, &typeID)
	if err != nil || !typeID.Equal(oidHardwareModuleName) {
		t.Fatalf("otherName type: got %v, %v; want %v", typeID, err, oidHardwareModuleName)
	}
	var explicit asn1.RawValue
	if _, err := asn1.Unmarshal(rest, &explicit); err != nil {
		t.Fatal(err)
	}
	var hw hardwareModuleValue
	if _, err := asn1.Unmarshal(explicit.Bytes, &hw); err != nil {
		t.Fatal(err)
	}
	if !hw.HWType.Equal(hwType) || string(hw.HWSerialNum) != "HSM-42" {
		t.Fatalf("got %+v, want type %v serial HSM-42", hw, hwType)
	}
}
