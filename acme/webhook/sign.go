package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Headers of every delivery.
const (
	// HeaderSignature carries [Sign] of the body.
	HeaderSignature = "X-Acmegate-Signature"
	// HeaderEvent carries the event type.
	HeaderEvent = "X-Acmegate-Event"
	// HeaderEventID carries the event ID, the same in every attempt.
	HeaderEventID = "X-Acmegate-Event-Id"
	// HeaderAttempt counts the attempts of this delivery from 1.
	HeaderAttempt = "X-Acmegate-Attempt"
)

const signaturePrefix = "sha256="

// Sign returns the signature header value of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is the signature of body under secret. It
// compares in constant time.
func Verify(secret, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok {
		return false
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}
