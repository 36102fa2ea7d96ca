// Package state is the ACME state machine of acmegate: accounts, orders,
// authorizations and challenges with the status transitions of RFC 8555,
// Section 7.1.6, external account binding, key change, renewal information
// windows, profiles and the issuance policy decision.
//
// It is the only place that changes the status of an order or an
// authorization. It works without HTTP: the server package decodes requests,
// calls an [Engine] method and encodes the result. Refusals are
// *problem.Error values; anything else is an internal failure.
//
// Every state change is made in one store transaction together with its
// audit event. Issuance follows a fixed sequence: the order moves to
// processing and a serial is reserved (with an intent event), then the
// signer runs, then the certificate, the order's valid state and the issued
// event commit together before the certificate is returned to anyone.
package state
