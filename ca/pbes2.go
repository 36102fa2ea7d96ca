package ca

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
)

// This file implements password-based encryption of PKCS #8 private keys
// with PBES2 (RFC 8018, Section 6.2): PBKDF2 with HMAC-SHA-256 derives an
// AES-256-CBC key. The result is the EncryptedPrivateKeyInfo structure of
// RFC 5958, Section 3, which `openssl pkcs8` and most tooling read.

// Key-derivation settings for newly written files. The iteration count
// follows the OWASP guidance for PBKDF2-HMAC-SHA256 as of 2023.
const (
	pbkdf2Iterations = 600_000
	pbkdf2SaltSize   = 16

	// maxPBKDF2Iterations bounds the work a crafted file can demand.
	maxPBKDF2Iterations = 10_000_000
)

var (
	oidPBES2          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// keyFileIterations is the count [WriteEncryptedKey] and the ceremony use.
// It is a variable only so that this package's TestMain can lower it before
// any test runs; nothing else changes it.
var keyFileIterations = pbkdf2Iterations

// errUnsupportedEncryption means a key file uses a scheme we do not read.
var errUnsupportedEncryption = errors.New("unsupported key file encryption")

// encryptedPrivateKeyInfo is RFC 5958, Section 3.
type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// pbes2Params is PBES2-params, RFC 8018, Appendix A.4.
type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// pbkdf2Params is PBKDF2-params, RFC 8018, Appendix A.2. The salt is always
// the "specified" OCTET STRING choice.
type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
}

// encryptPKCS8 encrypts key under passphrase with iterations rounds of
// PBKDF2 and returns the DER of an EncryptedPrivateKeyInfo. Salt and IV are
// read from random.
func encryptPKCS8(
	key crypto.Signer,
	passphrase []byte,
	iterations int,
	random io.Reader,
) ([]byte, error) {
	plain, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshaling private key: %w", err)
	}
	defer clear(plain)

	salt := make([]byte, pbkdf2SaltSize)
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(random, salt); err != nil {
		return nil, fmt.Errorf("reading salt: %w", err)
	}
	if _, err := io.ReadFull(random, iv); err != nil {
		return nil, fmt.Errorf("reading iv: %w", err)
	}
	aesKey, err := pbkdf2.Key(sha256.New, string(passphrase), salt, iterations, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving key: %w", err)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}

	// PKCS #7 padding, RFC 8018, Section 6.1.1, step 4.
	padLen := aes.BlockSize - len(plain)%aes.BlockSize
	data := make([]byte, len(plain)+padLen)
	copy(data, plain)
	for i := len(plain); i < len(data); i++ {
		data[i] = byte(padLen)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)

	return marshalPBES2(salt, iterations, iv, data)
}

// marshalPBES2 builds the EncryptedPrivateKeyInfo around the ciphertext.
func marshalPBES2(salt []byte, iterations int, iv, ciphertext []byte) ([]byte, error) {
	kdf, err := asn1.Marshal(pbkdf2Params{
		Salt:           salt,
		IterationCount: iterations,
		PRF: pkix.AlgorithmIdentifier{
			Algorithm:  oidHMACWithSHA256,
			Parameters: asn1.NullRawValue,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("marshaling pbkdf2 parameters: %w", err)
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return nil, fmt.Errorf("marshaling iv: %w", err)
	}
	params, err := asn1.Marshal(pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{
			Algorithm:  oidPBKDF2,
			Parameters: asn1.RawValue{FullBytes: kdf},
		},
		EncryptionScheme: pkix.AlgorithmIdentifier{
			Algorithm:  oidAES256CBC,
			Parameters: asn1.RawValue{FullBytes: ivDER},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("marshaling pbes2 parameters: %w", err)
	}
	der, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm: pkix.AlgorithmIdentifier{
			Algorithm:  oidPBES2,
			Parameters: asn1.RawValue{FullBytes: params},
		},
		EncryptedData: ciphertext,
	})
	if err != nil {
		return nil, fmt.Errorf("marshaling encrypted key: %w", err)
	}
	return der, nil
}

// decryptPKCS8 reverses [encryptPKCS8]. It also reads files written by
// OpenSSL with PBKDF2 (HMAC-SHA-256/384/512) and AES-CBC. A wrong
// passphrase yields [ErrBadPassphrase].
func decryptPKCS8(der, passphrase []byte) (crypto.Signer, error) {
	var info encryptedPrivateKeyInfo
	if err := unmarshalStrict(der, &info); err != nil {
		return nil, fmt.Errorf("parsing encrypted key: %w", err)
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("%w: scheme %v is not PBES2", errUnsupportedEncryption,
			info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if err := unmarshalStrict(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("parsing pbes2 parameters: %w", err)
	}
	aesKey, iv, err := deriveKey(params, passphrase)
	if err != nil {
		return nil, err
	}
	plain, err := decryptCBC(aesKey, iv, info.EncryptedData)
	if err != nil {
		return nil, err
	}
	defer clear(plain)

	parsed, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, ErrBadPassphrase
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a signer", ErrUnsupportedKey, parsed)
	}
	return signer, nil
}

// deriveKey checks the PBES2 parameters and runs PBKDF2. It returns the
// AES key and the IV.
func deriveKey(params pbes2Params, passphrase []byte) ([]byte, []byte, error) {
	keyLen, err := aesKeyLength(params.EncryptionScheme.Algorithm)
	if err != nil {
		return nil, nil, err
	}
	var iv []byte
	if err := unmarshalStrict(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
		return nil, nil, fmt.Errorf("parsing iv: %w", err)
	}
	if len(iv) != aes.BlockSize {
		return nil, nil, fmt.Errorf("%w: iv of %d bytes", errUnsupportedEncryption, len(iv))
	}

	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, nil, fmt.Errorf("%w: key derivation %v is not PBKDF2",
			errUnsupportedEncryption, params.KeyDerivationFunc.Algorithm)
	}
	var kdf pbkdf2Params
	if err := unmarshalStrict(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		return nil, nil, fmt.Errorf("parsing pbkdf2 parameters: %w", err)
	}
	if kdf.IterationCount < 1 || kdf.IterationCount > maxPBKDF2Iterations {
		return nil, nil, fmt.Errorf("%w: %d pbkdf2 iterations",
			errUnsupportedEncryption, kdf.IterationCount)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, nil, fmt.Errorf("%w: key length %d", errUnsupportedEncryption, kdf.KeyLength)
	}
	prf, err := pbkdf2Hash(kdf.PRF.Algorithm)
	if err != nil {
		return nil, nil, err
	}
	key, err := pbkdf2.Key(prf, string(passphrase), kdf.Salt, kdf.IterationCount, keyLen)
	if err != nil {
		return nil, nil, fmt.Errorf("deriving key: %w", err)
	}
	return key, iv, nil
}

// aesKeyLength maps an AES-CBC OID to its key length in bytes.
func aesKeyLength(oid asn1.ObjectIdentifier) (int, error) {
	switch {
	case oid.Equal(oidAES128CBC):
		return 16, nil
	case oid.Equal(oidAES192CBC):
		return 24, nil
	case oid.Equal(oidAES256CBC):
		return 32, nil
	}
	return 0, fmt.Errorf("%w: cipher %v", errUnsupportedEncryption, oid)
}

// pbkdf2Hash maps a PBKDF2 PRF OID to its hash. The RFC 8018 default,
// HMAC-SHA-1 (an absent PRF), is refused.
func pbkdf2Hash(oid asn1.ObjectIdentifier) (func() hash.Hash, error) {
	switch {
	case oid.Equal(oidHMACWithSHA256):
		return sha256.New, nil
	case oid.Equal(oidHMACWithSHA384):
		return sha512.New384, nil
	case oid.Equal(oidHMACWithSHA512):
		return sha512.New, nil
	}
	return nil, fmt.Errorf("%w: pbkdf2 prf %v", errUnsupportedEncryption, oid)
}

// decryptCBC decrypts and strips PKCS #7 padding. Bad padding almost always
// means a wrong passphrase, so it reports [ErrBadPassphrase].
func decryptCBC(key, iv, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, ErrBadPassphrase
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ciphertext)

	padLen := int(plain[len(plain)-1])
	if padLen < 1 || padLen > aes.BlockSize {
		return nil, ErrBadPassphrase
	}
	for _, b := range plain[len(plain)-padLen:] {
		if int(b) != padLen {
			return nil, ErrBadPassphrase
		}
	}
	return plain[:len(plain)-padLen], nil
}

// unmarshalStrict is asn1.Unmarshal that also refuses trailing data.
func unmarshalStrict(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data after ASN.1 structure")
	}
	return nil
}
