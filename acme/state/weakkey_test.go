package state

import (
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
)

func TestWeakRSAKey(t *testing.T) {
	t.Parallel()
	good, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// A modulus with a small factor: 3 times a large odd number.
	small := new(big.Int).Mul(big.NewInt(3), new(big.Int).Lsh(big.NewInt(1), 2046))
	small.Add(small, big.NewInt(3))

	// A modulus that passes the ROCA fingerprint by construction: for each
	// fingerprint prime p, N mod p must be a power of 65537 mod p. N = 1
	// satisfies every congruence (65537^0), so the smallest positive
	// solution above 2^2047 of N = 1 mod lcm(primes) does too.
	lcm := big.NewInt(1)
	for _, p := range rocaPrimes {
		lcm.Mul(lcm, big.NewInt(p))
	}
	roca := new(big.Int).Lsh(big.NewInt(1), 2047)
	roca.Sub(roca, new(big.Int).Mod(roca, lcm))
	roca.Add(roca, lcm)
	roca.Add(roca, big.NewInt(1))
	// Keep the small-factor check from firing first: make it odd and not
	// divisible by 3, 5 or 7 by stepping in multiples of the lcm.
	for hasSmallFactor(roca) {
		roca.Add(roca, lcm)
	}

	tests := []struct {
		name string
		n    *big.Int
		want bool
	}{
		{"generated key", good.N, false},
		{"small factor", small, true},
		{"ROCA fingerprint", roca, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := weakRSAKey(&rsa.PublicKey{N: tc.n, E: 65537})
			if (got != "") != tc.want {
				t.Fatalf("got %q, want weak=%v", got, tc.want)
			}
		})
	}
}

func hasSmallFactor(n *big.Int) bool {
	m := new(big.Int)
	for _, p := range smallPrimes {
		if m.Mod(n, p).Sign() == 0 {
			return true
		}
	}
	return false
}
