package ca

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
)

func TestParseKeyAlgorithm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    KeyAlgorithm
		wantErr error
	}{
		{"", DefaultKeyAlgorithm, nil},
		{"ecdsa-p256", ECDSAP256, nil},
		{"ecdsa-p384", ECDSAP384, nil},
		{"rsa-3072", RSA3072, nil},
		{"rsa-4096", RSA4096, nil},
		{"rsa-2048", "", ErrUnknownKeyAlgorithm},
		{"ECDSA-P256", "", ErrUnknownKeyAlgorithm},
		{"ed25519", "", ErrUnknownKeyAlgorithm},
	}
	for _, tt := range tests {
		t.Run("'"+tt.in+"'", func(t *testing.T) {
			got, err := ParseKeyAlgorithm(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("algorithm: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alg       KeyAlgorithm
		wantCurve string
		wantBits  int
	}{
		{"", "P-256", 0}, // the default
		{ECDSAP256, "P-256", 0},
		{ECDSAP384, "P-384", 0},
		{RSA3072, "", 3072},
		{RSA4096, "", 4096},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			t.Parallel()
			key, err := GenerateKey(tt.alg, rand.Reader)
			if err != nil {
				t.Fatalf("GenerateKey: %v", err)
			}
			switch k := key.(type) {
			case *ecdsa.PrivateKey:
				if got := k.Curve.Params().Name; got != tt.wantCurve {
					t.Errorf("curve: got %s, want %s", got, tt.wantCurve)
				}
			case *rsa.PrivateKey:
				if got := k.N.BitLen(); got != tt.wantBits {
					t.Errorf("modulus: got %d bits, want %d", got, tt.wantBits)
				}
			default:
				t.Errorf("key type: got %T, want ECDSA or RSA", key)
			}
		})
	}
	if _, err := GenerateKey("dsa-1024", rand.Reader); !errors.Is(err, ErrUnknownKeyAlgorithm) {
		t.Errorf("GenerateKey(dsa-1024): got %v, want %v", err, ErrUnknownKeyAlgorithm)
	}
}
