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
		[]PermanentIdentifier{{Value: "SERIAL123", Assigner: assigner}}, true)
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
