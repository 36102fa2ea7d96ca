// Package pkcs11 keeps the online intermediate key of acmegate in a
// hardware token (an HSM, a smart card, or SoftHSM for tests) reached
// through a PKCS #11 module, instead of in an encrypted key file.
//
// [Open] loads the vendor's module, finds the token named in a [Config]
// and logs in with a PIN read from a file. [Token.GenerateKey] creates a
// key pair inside the token that is sensitive and never extractable;
// [Token.Signer] finds an existing one by label and refuses keys that
// could leave the token. Both return a crypto.Signer whose dynamic type is
// [*Signer], so it goes wherever package ca takes a key, such as
// [ca.NewIssuer]. [Token.LoadIssuer] builds the online issuer from the
// certificates in the data directory and the key in the token.
//
// The package only manages keys and signs. Certificate contents, the
// ceremony and issuance stay in package ca; configuration parsing and
// prompting stay in cmd/acmegate.
//
// # Use by the commands
//
// acmegate init --hsm-module M --hsm-token T --hsm-pin-file F
// --hsm-key-label L builds a [Config] from the flags, opens the token,
// calls [Token.GenerateKey] with L and the ceremony's key algorithm, and
// runs the ceremony with that signer as the intermediate key: the root is
// still a file key for the offline directory, the intermediate
// certificate certifies the token's public key, and no intermediate key
// file is written. If the ceremony fails after the key was generated, the
// command deletes the key again ([Signer.Delete]); `acmegate init
// intermediate --hsm-*` does the same for a rotation.
//
// acmegate serve with the same section in its configuration opens the
// token once at start-up, calls [Token.LoadIssuer], and closes the token
// on shutdown after the server has stopped.
//
// # Build
//
// The module is loaded with cgo (dlopen), through
// github.com/ThalesGroup/crypto11 and github.com/miekg/pkcs11.
package pkcs11
