//go:build !cgo

package deviceattest_test

import "testing"

// TestTPMSimulator needs the TPM reference simulator, which is C code.
func TestTPMSimulator(t *testing.T) {
	t.Skip("the TPM simulator needs cgo (CGO_ENABLED=1, a C compiler and OpenSSL headers); " +
		"the tpm format is still covered by TestTPMCrafted")
}
