package ca

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"testing"
	"time"
)

// SECURITY-CATALOGUE G2: serials carry 128 random bits and never repeat.
func TestNewSerialEntropy(t *testing.T) {
	t.Parallel()
	const n = 1000
	seen := make(map[string]bool, n)
	short := 0
	for range n {
		s, err := NewSerial(rand.Reader)
		if err != nil {
			t.Fatalf("NewSerial: %v", err)
		}
		if s.Sign() <= 0 {
			t.Fatalf("serial %v: got sign %d, want positive", s, s.Sign())
		}
		if s.BitLen() > 128 {
			t.Errorf("serial %x: got %d bits, want at most 128", s, s.BitLen())
		}
		if s.BitLen() < 120 {
			short++
		}
		der, err := asn1.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if content := len(der) - 2; content > 20 {
			t.Errorf("serial %x: got %d DER octets, want at most 20", s, content)
		}
		if seen[s.String()] {
			t.Fatalf("serial %x: got a repeat, want %d distinct serials", s, n)
		}
		seen[s.String()] = true
	}
	// A uniform 128-bit value is shorter than 120 bits with probability
	// 2^-8, so about 4 of 1000; 30 would mean a broken source.
	if short > 30 {
		t.Errorf("serials under 120 bits: got %d of %d, want about 4", short, n)
	}
}

func TestNewSerialReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rand    io.Reader
		want    *big.Int
		wantErr error
	}{
		{"top bit set", bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)),
			new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1)), nil},
		{"zeros then value", io.MultiReader(bytes.NewReader(make([]byte, 16)),
			bytes.NewReader(append(make([]byte, 15), 7))), big.NewInt(7), nil},
		{"only zeros", bytes.NewReader(make([]byte, 64)), nil, ErrBadSerial},
		{"short read", bytes.NewReader([]byte{1, 2, 3}), nil, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewSerial(tt.rand)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tt.wantErr)
			}
			if tt.want != nil && got.Cmp(tt.want) != 0 {
				t.Errorf("serial: got %x, want %x", got, tt.want)
			}
		})
	}
}

func TestNewSerialDeterministic(t *testing.T) {
	t.Parallel()
	seed := [32]byte{1, 2, 3}
	a, errA := NewSerial(mrand.NewChaCha8(seed))
	b, errB := NewSerial(mrand.NewChaCha8(seed))
	if errA != nil || errB != nil {
		t.Fatalf("NewSerial: got %v and %v, want nil", errA, errB)
	}
	if a.Cmp(b) != 0 {
		t.Errorf("same seed: got %x and %x, want equal serials", a, b)
	}
}

func TestCheckSerial(t *testing.T) {
	t.Parallel()
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1))
	tests := []struct {
		name   string
		serial *big.Int
		ok     bool
	}{
		{"nil", nil, false},
		{"zero", big.NewInt(0), false},
		{"negative", big.NewInt(-5), false},
		{"one", big.NewInt(1), true},
		{"20 octets", max, true},
		{"21 octets", new(big.Int).Lsh(big.NewInt(1), 159), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSerial(tt.serial)
			if got := err == nil; got != tt.ok {
				t.Errorf("checkSerial(%v): got ok=%v, want %v", tt.serial, got, tt.ok)
			}
		})
	}
}

// TestNewTimedSerial checks the layout of leaf serials (SECURITY-CATALOGUE
// G2 for the serials the gateway issues): the time in milliseconds, then
// 104 random bits that never repeat and each of which is set half the
// time; positive and within 20 octets.
func TestNewTimedSerial(t *testing.T) {
	const n = 100_000
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 8*timedRandomBytes), big.NewInt(1))
	seen := make(map[string]bool, n)
	var ones [8 * timedRandomBytes]int
	var prev *big.Int
	for i := range n {
		at := now.Add(time.Duration(i/1000) * time.Millisecond)
		s, err := NewTimedSerial(rand.Reader, at)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkSerial(s); err != nil {
			t.Fatalf("serial %x: %v", s, err)
		}
		if got := new(big.Int).Rsh(s, 8*timedRandomBytes).Int64(); got != at.UnixMilli() {
			t.Fatalf("serial %x: time part %d, want %d", s, got, at.UnixMilli())
		}
		if i%1000 == 0 && prev != nil && s.Cmp(prev) <= 0 {
			t.Fatalf("serial %x of a later millisecond is not greater than %x", s, prev)
		}
		prev = s
		random := new(big.Int).And(s, mask)
		if seen[string(random.Bytes())] {
			t.Fatalf("random part of %x repeats", s)
		}
		seen[string(random.Bytes())] = true
		for bit := range ones {
			ones[bit] += int(random.Bit(bit))
		}
	}
	for bit, c := range ones {
		if f := float64(c) / n; f < 0.49 || f > 0.51 {
			t.Errorf("random bit %d set in %.4f of serials, want 0.5 +- 0.01", bit, f)
		}
	}
	if _, err := NewTimedSerial(rand.Reader, time.Unix(0, 0)); !errors.Is(err, ErrBadSerial) {
		t.Errorf("serial at the epoch: got %v, want ErrBadSerial", err)
	}
}
