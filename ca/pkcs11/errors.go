package pkcs11

import "errors"

// Sentinel errors returned (wrapped) by this package. Test for them with
// [errors.Is]. Errors from the PKCS #11 module stay wrapped behind them, so
// the message also carries the module's return value (such as
// CKR_PIN_INCORRECT).
var (
	// ErrInvalidConfig means a [Config] field is missing or malformed; the
	// message names the field by its YAML name.
	ErrInvalidConfig = errors.New("pkcs11: invalid configuration")

	// ErrEmptyPIN means the PIN file holds no PIN.
	ErrEmptyPIN = errors.New("pkcs11: empty PIN")

	// ErrBadPIN means the token refused the PIN.
	ErrBadPIN = errors.New("pkcs11: wrong PIN")

	// ErrPINLocked means the token has locked the user PIN, usually after
	// too many wrong attempts; its security officer must unlock it.
	ErrPINLocked = errors.New("pkcs11: PIN locked")

	// ErrTokenNotFound means no slot of the module holds a token with the
	// configured label.
	ErrTokenNotFound = errors.New("pkcs11: token not found")

	// ErrKeyNotFound means the token has no key pair with the given label.
	ErrKeyNotFound = errors.New("pkcs11: key not found")

	// ErrKeyExists means a private key with the given label already exists,
	// so a new one is not generated.
	ErrKeyExists = errors.New("pkcs11: key label already in use")

	// ErrAmbiguousLabel means several key pairs share a label and the
	// package will not guess which one signs.
	ErrAmbiguousLabel = errors.New("pkcs11: several keys share the label")

	// ErrExtractable means a private key could leave the token (it is not
	// sensitive, or it is extractable) or is not allowed to sign. Such keys
	// are refused as CA keys.
	ErrExtractable = errors.New("pkcs11: key is not protected by the token")

	// ErrClosed means the [Token] was closed, before or during the call.
	ErrClosed = errors.New("pkcs11: token closed")
)
