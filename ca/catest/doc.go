// Package catest is test support for code that obtains certificates and
// CRLs from acmegate: it runs zlint over them and fails the test on any
// warning or error.
//
// [Lint] and [LintCRL] tolerate the lints that fire on correct output of an
// internal ACME CA (internal names, private IP addresses, no public policy
// identifiers, optional URLs); [InternalCAExclusions] lists them, each with
// its reason. [LintExcept] takes an explicit list for stricter checks, and
// [Check] returns the findings instead of failing a test. [NewCSR] makes a
// certificate request to issue for.
//
// The zlint registry is built once per process, without the CA/B Forum EV
// Guidelines and ETSI lints, which do not apply to acmegate. The package
// imports zlint and zcrypto, so import it only from tests.
package catest
