package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"strconv"
	"strings"
)

// keyType is one parsed entry of [Rule.KeyTypes].
type keyType struct {
	text string
	// alg is "ecdsa", "rsa" or "ed25519".
	alg   string
	curve elliptic.Curve
	// bits is the RSA modulus size; atLeast makes it a lower bound.
	bits    int
	atLeast bool
}

var curves = map[string]elliptic.Curve{
	"ecdsa-p256": elliptic.P256(),
	"ecdsa-p384": elliptic.P384(),
	"ecdsa-p521": elliptic.P521(),
}

func parseKeyType(s string) (keyType, error) {
	k := keyType{text: s}
	if c, ok := curves[s]; ok {
		k.alg, k.curve = "ecdsa", c
		return k, nil
	}
	if s == "ed25519" {
		k.alg = "ed25519"
		return k, nil
	}
	bits, ok := strings.CutPrefix(s, "rsa-")
	if !ok {
		return k, fmt.Errorf("%q is not a key type: use ecdsa-p256, ecdsa-p384, ecdsa-p521, "+
			"ed25519, rsa-N or rsa-N+", s)
	}
	bits, k.atLeast = strings.CutSuffix(bits, "+")
	n, err := strconv.Atoi(bits)
	if err != nil || n < 2048 || n > 8192 {
		return k, fmt.Errorf("%q: RSA sizes must be between 2048 and 8192 bits", s)
	}
	k.alg, k.bits = "rsa", n
	return k, nil
}

func (k keyType) matches(pub crypto.PublicKey) bool {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		return k.alg == "ecdsa" && p.Curve == k.curve
	case *rsa.PublicKey:
		if k.alg != "rsa" {
			return false
		}
		if k.atLeast {
			return p.N.BitLen() >= k.bits
		}
		return p.N.BitLen() == k.bits
	case ed25519.PublicKey:
		return k.alg == "ed25519"
	}
	return false
}

// describeKey names a public key the way [Rule.KeyTypes] does.
func describeKey(pub crypto.PublicKey) string {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		for name, c := range curves {
			if p.Curve == c {
				return name
			}
		}
		return "ecdsa-" + p.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa-%d", p.N.BitLen())
	case ed25519.PublicKey:
		return "ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
