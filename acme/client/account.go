package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// AccountRequest is what [Client.Register] asks for (RFC 8555,
// Section 7.3).
type AccountRequest struct {
	// Contact lists URLs such as "mailto:ops@example.com".
	Contact []string
	// TermsOfServiceAgreed tells the server the terms were agreed to.
	TermsOfServiceAgreed bool
	// OnlyReturnExisting finds the account of the key without creating
	// one; the server answers accountDoesNotExist when there is none.
	OnlyReturnExisting bool
	// EAB, when not nil, binds the new account to an external account
	// (RFC 8555, Section 7.3.4).
	EAB *ExternalAccountBinding
}

// Register creates the account of the client's key, or finds it when the
// key already has one (the server then ignores the request's other
// fields), and remembers its URL for later requests. It returns a
// *ProblemError when the server refuses, such as externalAccountRequired
// or unauthorized for a bad binding.
func (c *Client) Register(ctx context.Context, req AccountRequest) (*Account, error) {
	dir, err := c.Directory(ctx)
	if err != nil {
		return nil, err
	}
	p := accountPayload{
		Contact:              req.Contact,
		TermsOfServiceAgreed: req.TermsOfServiceAgreed,
		OnlyReturnExisting:   req.OnlyReturnExisting,
	}
	if req.EAB != nil {
		if p.ExternalAccountBinding, err = c.signEAB(req.EAB, dir.NewAccount); err != nil {
			return nil, err
		}
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the account request: %w", err)
	}
	resp, err := c.post(ctx, dir.NewAccount, payload, true)
	if err != nil {
		return nil, fmt.Errorf("client: registering the account: %w", err)
	}
	acct := new(Account)
	if err := resp.decode(acct); err != nil {
		return nil, fmt.Errorf("client: registering the account: %w", err)
	}
	// RFC 8555, Section 7.3: the account URL comes in Location, both for a
	// new account (201) and an existing one (200).
	acct.URL = resp.header.Get("Location")
	if acct.URL == "" {
		return nil, errors.New("client: the new-account answer has no Location header")
	}
	c.SetAccountURL(acct.URL)
	return acct, nil
}
