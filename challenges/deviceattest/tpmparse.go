package deviceattest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"math/big"
)

// TPM 2.0 constants (TCG TPM 2.0 Library, Part 2: Structures).
const (
	tpmGeneratedValue   = 0xff544347 // TPM_GENERATED_VALUE
	tpmSTAttestCertify  = 0x8017     // TPM_ST_ATTEST_CERTIFY
	tpmAlgRSA           = 0x0001
	tpmAlgSHA256        = 0x000b
	tpmAlgSHA384        = 0x000c
	tpmAlgSHA512        = 0x000d
	tpmAlgNull          = 0x0010
	tpmAlgRSASSA        = 0x0014
	tpmAlgRSAPSS        = 0x0016
	tpmAlgECDSA         = 0x0018
	tpmAlgECC           = 0x0023
	tpmECCNistP256      = 0x0003
	tpmECCNistP384      = 0x0004
	tpmECCNistP521      = 0x0005
	tpmaFixedTPM        = 1 << 1
	tpmaFixedParent     = 1 << 4
	tpmaSensitiveOrigin = 1 << 5
	tpmaSign            = 1 << 18
)

// errTPMShort reports a TPM structure that ends early.
var errTPMShort = errors.New("truncated")

// tpmReader reads big-endian TPM structures from a byte slice. Each read
// after an error is a no-op, so a parser checks err once at the end.
type tpmReader struct {
	b   []byte
	err error
}

func (r *tpmReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *tpmReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail(errTPMShort)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *tpmReader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *tpmReader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *tpmReader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// sized reads a TPM2B: a 16-bit size, then that many bytes.
func (r *tpmReader) sized() []byte {
	return r.bytes(int(r.u16()))
}

// done fails unless the whole input was read.
func (r *tpmReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(errors.New("trailing bytes"))
	}
	return r.err
}

// tpmAttest holds the fields of a TPMS_ATTEST of type TPM_ST_ATTEST_CERTIFY
// that the verifier uses.
type tpmAttest struct {
	extraData []byte // TPM2B_DATA, the qualifying data
	name      []byte // TPMS_CERTIFY_INFO.name, the certified object's Name
}

// parseTPMSAttest parses a TPMS_ATTEST (Part 2, Section 10.12.12) and
// requires the magic value and the certify type.
func parseTPMSAttest(b []byte) (*tpmAttest, error) {
	r := &tpmReader{b: b}
	magic := r.u32()
	typ := r.u16()
	r.sized() // qualifiedSigner
	extra := r.sized()
	r.bytes(8 + 4 + 4 + 1) // clockInfo: clock, resetCount, restartCount, safe
	r.u64()                // firmwareVersion
	name := r.sized()
	r.sized() // qualifiedName
	if err := r.done(); err != nil {
		return nil, err
	}
	if magic != tpmGeneratedValue {
		return nil, errors.New("magic is not TPM_GENERATED_VALUE")
	}
	if typ != tpmSTAttestCertify {
		return nil, errors.New("type is not TPM_ST_ATTEST_CERTIFY")
	}
	return &tpmAttest{extraData: extra, name: name}, nil
}

// tpmPublic holds the fields of a TPMT_PUBLIC that the verifier uses.
type tpmPublic struct {
	nameAlg    uint16
	attributes uint32
	key        crypto.PublicKey
}

// parseTPMTPublic parses a TPMT_PUBLIC (Part 2, Section 12.2.4) describing
// an RSA or ECC signing key: no symmetric algorithm, a NULL scheme or a
// signing scheme (RSASSA, RSAPSS, ECDSA), no KDF. Other objects are
// refused: they cannot be a certificate's key.
func parseTPMTPublic(b []byte) (*tpmPublic, error) {
	r := &tpmReader{b: b}
	typ := r.u16()
	pub := &tpmPublic{nameAlg: r.u16(), attributes: r.u32()}
	r.sized() // authPolicy
	if r.u16() != tpmAlgNull {
		r.fail(errors.New("the key has a symmetric algorithm"))
	}
	scheme := r.u16()
	if scheme != tpmAlgNull {
		r.u16() // the scheme's hash algorithm
	}

	var key crypto.PublicKey
	var err error
	switch typ {
	case tpmAlgRSA:
		if scheme != tpmAlgNull && scheme != tpmAlgRSASSA && scheme != tpmAlgRSAPSS {
			r.fail(errors.New("the RSA key is not a signing key"))
		}
		key, err = readRSAKey(r)
	case tpmAlgECC:
		if scheme != tpmAlgNull && scheme != tpmAlgECDSA {
			r.fail(errors.New("the ECC key is not an ECDSA key"))
		}
		key, err = readECCKey(r)
	default:
		return nil, errors.New("the object is neither an RSA nor an ECC key")
	}
	if err != nil {
		return nil, err
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	pub.key = key
	return pub, nil
}

// readRSAKey reads the rest of an RSA TPMT_PUBLIC: keyBits, exponent and
// the modulus.
func readRSAKey(r *tpmReader) (crypto.PublicKey, error) {
	keyBits := r.u16()
	exp := r.u32()
	modulus := r.sized()
	if r.err != nil {
		return nil, r.err
	}
	switch keyBits {
	case 2048, 3072, 4096:
	default:
		return nil, errors.New("unsupported RSA key size")
	}
	if len(modulus) != int(keyBits)/8 || modulus[0] == 0 {
		return nil, errors.New("the RSA modulus does not match keyBits")
	}
	if exp == 0 {
		exp = 65537 // TPM 2.0 Part 2, Section 12.2.3.5: zero means 2^16 + 1
	}
	if exp < 3 || exp%2 == 0 || exp > 1<<31-1 {
		return nil, errors.New("invalid RSA exponent")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(modulus), E: int(exp)}, nil
}

// readECCKey reads the rest of an ECC TPMT_PUBLIC: curveID, the KDF scheme
// (which must be NULL) and the point, which must be on the curve.
func readECCKey(r *tpmReader) (crypto.PublicKey, error) {
	curveID := r.u16()
	if r.u16() != tpmAlgNull {
		r.fail(errors.New("the ECC key has a KDF scheme"))
	}
	x := r.sized()
	y := r.sized()
	if r.err != nil {
		return nil, r.err
	}
	var curve elliptic.Curve
	switch curveID {
	case tpmECCNistP256:
		curve = elliptic.P256()
	case tpmECCNistP384:
		curve = elliptic.P384()
	case tpmECCNistP521:
		curve = elliptic.P521()
	default:
		return nil, errors.New("unsupported ECC curve")
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(x) > size || len(y) > size {
		return nil, errors.New("the ECC point is too long for its curve")
	}
	point := make([]byte, 1+2*size)
	point[0] = 4 // uncompressed
	copy(point[1+size-len(x):1+size], x)
	copy(point[1+2*size-len(y):], y)
	key, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, errors.New("the ECC point is not on the curve")
	}
	return key, nil
}

// tpmSignature is a parsed TPMT_SIGNATURE (Part 2, Section 11.3.4).
type tpmSignature struct {
	alg  uint16 // tpmAlgRSASSA, tpmAlgRSAPSS or tpmAlgECDSA
	hash uint16
	rsa  []byte   // RSA signature
	r, s *big.Int // ECDSA signature
}

// parseTPMTSignature parses an RSASSA, RSAPSS or ECDSA TPMT_SIGNATURE.
func parseTPMTSignature(b []byte) (*tpmSignature, error) {
	rd := &tpmReader{b: b}
	sig := &tpmSignature{alg: rd.u16(), hash: rd.u16()}
	switch sig.alg {
	case tpmAlgRSASSA, tpmAlgRSAPSS:
		sig.rsa = rd.sized()
	case tpmAlgECDSA:
		sig.r = new(big.Int).SetBytes(rd.sized())
		sig.s = new(big.Int).SetBytes(rd.sized())
	default:
		rd.fail(errors.New("unsupported signature algorithm"))
	}
	if err := rd.done(); err != nil {
		return nil, err
	}
	return sig, nil
}
