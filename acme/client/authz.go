package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Authorization fetches an authorization (RFC 8555, Section 7.5).
func (c *Client) Authorization(ctx context.Context, url string) (*Authorization, error) {
	a, _, err := c.authorization(ctx, url)
	return a, err
}

func (c *Client) authorization(
	ctx context.Context,
	url string,
) (*Authorization, time.Duration, error) {
	a := new(Authorization)
	resp, err := c.postJSON(ctx, url, nil, a)
	if err != nil {
		return nil, 0, fmt.Errorf("client: fetching authorization %s: %w", url, err)
	}
	a.URL = url
	return a, retryAfter(resp.header, time.Now()), nil
}

// Respond asks the server to validate a challenge (RFC 8555,
// Section 7.5.1) and returns the challenge as the server answered. The
// payload is sent as JSON: nil sends {}, which http-01, dns-01 and
// tls-alpn-01 expect; a json.RawMessage is sent as is; anything else is
// marshalled, such as map[string]string{"tkauth": token} for tkauth-01.
// The payload must be a JSON object. The challenge may still be processing
// when Respond returns; [Client.WaitAuthorization] waits for the outcome.
func (c *Client) Respond(
	ctx context.Context,
	challengeURL string,
	payload any,
) (*Challenge, error) {
	var body []byte
	switch p := payload.(type) {
	case nil:
		body = []byte("{}")
	case json.RawMessage:
		body = p
	default:
		var err error
		if body, err = json.Marshal(p); err != nil {
			return nil, fmt.Errorf("client: encoding the challenge response: %w", err)
		}
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil || probe == nil {
		return nil, errors.New("client: a challenge response payload must be a JSON object")
	}
	resp, err := c.post(ctx, challengeURL, body, false)
	if err != nil {
		return nil, fmt.Errorf("client: responding to challenge %s: %w", challengeURL, err)
	}
	ch := new(Challenge)
	if err := resp.decode(ch); err != nil {
		return nil, fmt.Errorf("client: responding to challenge %s: %w", challengeURL, err)
	}
	return ch, nil
}

// WaitAuthorization polls an authorization until it is no longer pending
// and returns it when it is valid. An invalid authorization gives an error
// that wraps the *ProblemError of its failed challenge (such as
// unauthorized, incorrectResponse or caa); a deactivated, expired or
// revoked one gives a plain error. Polling is bounded as described in
// [Options].
func (c *Client) WaitAuthorization(ctx context.Context, url string) (*Authorization, error) {
	var authz *Authorization
	err := c.poll(ctx, "authorization "+url, func(ctx context.Context) (time.Duration, bool, error) {
		a, retry, err := c.authorization(ctx, url)
		if err != nil {
			return 0, false, err
		}
		authz = a
		return retry, a.Status != StatusPending, nil
	})
	if err != nil {
		return nil, err
	}
	switch authz.Status {
	case StatusValid:
		return authz, nil
	case StatusInvalid:
		return nil, authorizationError(authz)
	}
	return nil, fmt.Errorf("client: authorization for %s is %s", authz.Identifier.Value, authz.Status)
}

// authorizationError describes an invalid authorization by the problem
// of its failed challenge.
func authorizationError(a *Authorization) error {
	for i := range a.Challenges {
		if ch := &a.Challenges[i]; ch.Error != nil {
			return fmt.Errorf("client: authorization for %s is invalid (%s): %w",
				a.Identifier.Value, ch.Type, ch.Error)
		}
	}
	return fmt.Errorf("client: authorization for %s is invalid, with no challenge error",
		a.Identifier.Value)
}
