package ca

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"time"
)

// ServerProfileName names the profile of [Issuer.IssueServerCertificate].
const ServerProfileName = "gateway-server"

// IssueServerCertificate issues a certificate for the gateway's own HTTPS
// listener and returns it ready for tls.Config: the leaf followed by the
// intermediate, with key as private key and Leaf set. hosts are DNS names
// or IP addresses (at least one); the certificate carries serverAuth only.
// notBefore is now minus one minute and notAfter is notBefore plus
// lifetime (zero means 24 hours). rand supplies the serial and
// the CSR signature.
//
// The certificate is not recorded anywhere: callers that must account
// for every certificate (ARCHITECTURE.md) store its serial first. Errors
// are those of [Issuer.Issue].
func (i *Issuer) IssueServerCertificate(
	hosts []string,
	key crypto.Signer,
	lifetime time.Duration,
	now time.Time,
	rand io.Reader,
) (tls.Certificate, error) {
	if rand == nil {
		rand = defaultRand()
	}
	csr, err := selfCSR(key, rand)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issuing server certificate: %w", err)
	}
	checked, err := CheckCSR(csr)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issuing server certificate: %w", err)
	}
	serial, err := NewSerial(rand)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issuing server certificate: %w", err)
	}
	dnsNames, ips := splitHosts(hosts)
	cert, der, err := i.Issue(IssueRequest{
		CSR:         checked,
		DNSNames:    dnsNames,
		IPAddresses: ips,
		Serial:      serial,
		Profile: Profile{
			Name:        ServerProfileName,
			Lifetime:    lifetime,
			MaxLifetime: lifetime,
			Backdate:    DefaultLeafBackdate,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		Now:  now,
		Rand: rand,
	})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issuing server certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der, i.Certificate.Raw},
		PrivateKey:  key,
		Leaf:        cert,
	}, nil
}

// selfCSR makes a CSR signed by key, only to hand its public key to
// [Issuer.Issue] through the usual checks.
func selfCSR(key crypto.Signer, rand io.Reader) (*x509.CertificateRequest, error) {
	der, err := x509.CreateCertificateRequest(rand, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, fmt.Errorf("creating CSR: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CSR: %w", err)
	}
	return csr, nil
}

// splitHosts sorts hosts into DNS names and IP addresses, keeping order.
func splitHosts(hosts []string) ([]string, []net.IP) {
	var (
		dnsNames []string
		ips      []net.IP
	)
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			continue
		}
		dnsNames = append(dnsNames, h)
	}
	return dnsNames, ips
}
