package client

import (
	"context"
	"encoding/base64"
	"fmt"
)

// Revocation reasons (RFC 5280, Section 5.3.1) that a subscriber uses.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
)

// Revoke revokes the DER certificate certDER with the given reason
// (RFC 8555, Section 7.6), signed with the account key: the account must
// have ordered the certificate or hold valid authorizations for all its
// names. It returns a *ProblemError when the server refuses, such as
// alreadyRevoked, unauthorized or badRevocationReason.
func (c *Client) Revoke(ctx context.Context, certDER []byte, reason int) error {
	dir, err := c.Directory(ctx)
	if err != nil {
		return err
	}
	if dir.RevokeCert == "" {
		return fmt.Errorf("client: revocation: %w", ErrUnsupported)
	}
	p := revokePayload{Certificate: base64.RawURLEncoding.EncodeToString(certDER), Reason: &reason}
	if _, err := c.postJSON(ctx, dir.RevokeCert, p, nil); err != nil {
		return fmt.Errorf("client: revoking the certificate: %w", err)
	}
	return nil
}
