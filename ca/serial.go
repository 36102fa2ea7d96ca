package ca

import (
	"fmt"
	"io"
	"math/big"
	"time"
)

// serialBytes is how many random bytes make a serial: 128 bits, twice the
// 64 bits of CSPRNG output that CA/B Forum Baseline Requirements,
// Section 7.1 asks for.
const serialBytes = 16

// maxSerialBits is the longest positive serial whose DER INTEGER content
// fits in 20 octets (RFC 5280, Section 4.1.2.2): 20*8 bits less the sign bit.
const maxSerialBits = 20*8 - 1

// NewSerial returns a fresh certificate serial number: 128 bits read from
// rand, as a positive integer. Its DER encoding is at most 17 octets, well
// under the 20 of RFC 5280, Section 4.1.2.2. Zero (one chance in 2^128) is
// never returned; the bytes are drawn again. Errors come only from rand.
func NewSerial(rand io.Reader) (*big.Int, error) {
	buf := make([]byte, serialBytes)
	for range 3 {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("reading serial: %w", err)
		}
		serial := new(big.Int).SetBytes(buf)
		if serial.Sign() > 0 {
			return serial, nil
		}
	}
	return nil, fmt.Errorf("reading serial: %w: random source returned only zeros", ErrBadSerial)
}

// timedRandomBytes is how many random bytes follow the time in a serial
// of [NewTimedSerial]: 104 bits, well over the Baseline Requirements' 64.
const timedRandomBytes = 13

// NewTimedSerial returns a fresh serial for a leaf certificate: the time
// in milliseconds (48 bits) followed by 104 bits read from rand. Serials
// made close together then sort together, so that the store's indexes on
// them (the certificate table's key, the serial reservations) grow in one
// place rather than touching a random page of a large B-tree with every
// issuance; the random part is what makes serials unpredictable
// (CA/B Forum Baseline Requirements, Section 7.1). The serial is positive
// (the time's top bit is zero until the year 6429) and its DER encoding is
// 19 octets, within the 20 of RFC 5280, Section 4.1.2.2.
func NewTimedSerial(rand io.Reader, now time.Time) (*big.Int, error) {
	ms := now.UnixMilli()
	if ms <= 0 || ms >= 1<<47 {
		return nil, fmt.Errorf("%w: time %v out of range", ErrBadSerial, now)
	}
	buf := make([]byte, 6+timedRandomBytes)
	for i := range 6 {
		buf[i] = byte(ms >> (8 * (5 - i)))
	}
	if _, err := io.ReadFull(rand, buf[6:]); err != nil {
		return nil, fmt.Errorf("reading serial: %w", err)
	}
	return new(big.Int).SetBytes(buf), nil
}

// checkSerial enforces RFC 5280, Section 4.1.2.2: a positive integer of at
// most 20 octets.
func checkSerial(serial *big.Int) error {
	if serial == nil || serial.Sign() <= 0 || serial.BitLen() > maxSerialBits {
		return ErrBadSerial
	}
	return nil
}
