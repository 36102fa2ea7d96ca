package server_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/ocsp"

	"github.com/acmegate/acmegate/acme/acmetest"
)

// postOCSP posts a DER OCSP request and checks the response's headers.
func postOCSP(t *testing.T, gw *acmetest.Gateway, der []byte) []byte {
	t.Helper()
	r := post(t, gw, gw.URLFor("ocsp"), "application/ocsp-request", der).Want(t, http.StatusOK)
	checkOCSPHeaders(t, r.Header)
	return r.Body
}

func checkOCSPHeaders(t *testing.T, h http.Header) {
	t.Helper()
	if got := h.Get("Content-Type"); got != "application/ocsp-response" {
		t.Errorf("Content-Type = %q, want application/ocsp-response", got)
	}
	if got := h.Get("Cache-Control"); got != "max-age=3600" {
		t.Errorf("Cache-Control = %q, want max-age=3600", got)
	}
}

// parseOCSP parses and verifies a response for cert against issuer.
func parseOCSP(t *testing.T, der []byte, cert, issuer *x509.Certificate) *ocsp.Response {
	t.Helper()
	resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		t.Fatalf("parsing the OCSP response: %v", err)
	}
	if !bytes.Equal(resp.RawResponderName, issuer.RawSubject) {
		t.Errorf("the responder is not the issuer")
	}
	if got := resp.NextUpdate.Sub(resp.ThisUpdate); got.Hours() != 1 {
		t.Errorf("nextUpdate - thisUpdate = %v, want 1h", got)
	}
	return resp
}

func TestOCSP(t *testing.T) {
	gw := acmetest.New(t, acmetest.Options{})
	cl := gw.NewClient(t, jose.ES256)
	cl.Register(t)
	issued := cl.Issue(t, "ocsp.corp.internal")
	inter := gw.Issuer.CA().Certificate

	req, err := ocsp.CreateRequest(issued.Cert, inter, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("good", func(t *testing.T) {
		resp := parseOCSP(t, postOCSP(t, gw, req), issued.Cert, inter)
		if resp.Status != ocsp.Good {
			t.Errorf("status = %d, want good", resp.Status)
		}
		if resp.SerialNumber.Cmp(issued.Cert.SerialNumber) != 0 {
			t.Errorf("serial = %x, want %x", resp.SerialNumber, issued.Cert.SerialNumber)
		}
	})

	t.Run("GET", func(t *testing.T) {
		u := gw.URLFor("ocsp") + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))
		r := gw.Do(t, gw.NewRequest(t, http.MethodGet, u, "", nil)).Want(t, http.StatusOK)
		checkOCSPHeaders(t, r.Header)
		if resp := parseOCSP(t, r.Body, issued.Cert, inter); resp.Status != ocsp.Good {
			t.Errorf("status = %d, want good", resp.Status)
		}
	})

	t.Run("plain-HTTP handler", func(t *testing.T) {
		rec := httptest.NewRecorder()
		hr := httptest.NewRequest(http.MethodPost, gw.Prefix+"/ocsp", bytes.NewReader(req))
		hr.Header.Set("Content-Type", "application/ocsp-request")
		gw.Server.CRLHandler().ServeHTTP(rec, hr)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d, want 200", rec.Code)
		}
		checkOCSPHeaders(t, rec.Header())
		if resp := parseOCSP(t, rec.Body.Bytes(), issued.Cert, inter); resp.Status != ocsp.Good {
			t.Errorf("status = %d, want good", resp.Status)
		}
	})

	t.Run("unknown serial", func(t *testing.T) {
		other := *issued.Cert
		other.SerialNumber = new(big.Int).Add(issued.Cert.SerialNumber, big.NewInt(1))
		unknownReq, err := ocsp.CreateRequest(&other, inter, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ocsp.ParseResponse(postOCSP(t, gw, unknownReq), inter)
		if err != nil {
			t.Fatalf("parsing the OCSP response: %v", err)
		}
		if resp.Status != ocsp.Unknown {
			t.Errorf("status = %d, want unknown", resp.Status)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		body := postOCSP(t, gw, []byte("not an OCSP request"))
		if !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
			t.Errorf("got %x, want the malformedRequest response", body)
		}
		_, err := ocsp.ParseResponse(body, nil)
		if _, ok := err.(ocsp.ResponseError); !ok {
			t.Errorf("parsing: got %v, want a ResponseError", err)
		}
		r := gw.Do(t, gw.NewRequest(t, http.MethodGet, gw.URLFor("ocsp")+"/not*base64", "", nil)).
			Want(t, http.StatusOK)
		if !bytes.Equal(r.Body, ocsp.MalformedRequestErrorResponse) {
			t.Errorf("GET of garbage: got %x, want the malformedRequest response", r.Body)
		}
	})

	t.Run("revoked", func(t *testing.T) {
		cl.PostJSON(t, gw.URLFor("revoke-cert"), map[string]any{
			"certificate": base64.RawURLEncoding.EncodeToString(issued.Cert.Raw),
			"reason":      ocsp.Superseded,
		}).Want(t, http.StatusOK)
		resp := parseOCSP(t, postOCSP(t, gw, req), issued.Cert, inter)
		if resp.Status != ocsp.Revoked {
			t.Fatalf("status = %d, want revoked", resp.Status)
		}
		if resp.RevocationReason != ocsp.Superseded {
			t.Errorf("reason = %d, want %d", resp.RevocationReason, ocsp.Superseded)
		}
		if resp.RevokedAt.IsZero() {
			t.Errorf("revokedAt is zero")
		}
	})
}
