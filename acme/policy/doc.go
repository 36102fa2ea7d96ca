// Package policy is acmegate's issuance policy: which accounts may order
// which identifiers, with which profiles, lifetimes, key types and
// challenge types, and how often.
//
// The policy is a YAML [Document] of rules and exceptions, saved in the
// store as numbered versions ([Save]) with an audit event for each, and
// read back by every gateway replica ([Engine.Reload], [Engine.Run]), so a
// change takes effect everywhere without a restart. An example:
//
//	rules:
//	  - name: payments-prod
//	    owner: team-payments
//	    match: {eab_key_id: eab_4f2a}
//	    allow_names: [payments.corp.example, "*.svc.cluster.local"]
//	    deny_names: [admin.payments.corp.example]
//	    allow_ips: [10.20.0.0/16]
//	    profiles: [default, mtls]
//	    max_lifetime: 24h
//	    key_types: [ecdsa-p256, ecdsa-p384, rsa-2048+]
//	    challenge_types: [dns-01]
//	    rate_limits:
//	      - {scope: account, kind: orders, limit: 300, window: 1h}
//	      - {scope: identifier, kind: certificates, limit: 5, window: 7d}
//	  - name: everyone-else
//	    owner: pki-team
//	    match: {default: true}
//	    allow_names: [corp.example]
//	exceptions:
//	  - rule: payments-prod
//	    identifier: legacy.billing.example
//	    owner: team-payments
//	    reason: "CHG-1234: legacy host until the migration ends"
//	    expires: 2026-06-30T00:00:00Z
//
// One rule governs each account: the rule bound to the account if there
// is one, else the rule bound to the EAB key the account was created with,
// else the default rule. A governing rule replaces the default rather than
// adding to it. When no rule binds an account and there is no default
// rule, the account falls under [BuiltInRule], which allows whatever the
// gateway's own checks allow (identifier syntax, the `policy:` section of
// the configuration, profile lifetimes, key strength, the pending-order
// cap) and sets no rate limits. That keeps a fresh installation, with no
// policy saved, working as before.
//
// An [Exception] lets an identifier or an account past parts of one rule
// until it expires; it then lapses by itself. Exceptions live in the
// document, so adding or removing one is a new version with its audit
// event, and each decision lists the exceptions that changed it.
//
// [Engine.DecideOrder] returns a [Decision] naming the deciding rule, or a
// *[problem.Error] (rejectedIdentifier with one subproblem per identifier,
// invalidProfile, malformed for a lifetime, rateLimited with Retry-After)
// whose detail names the rule and its owner. [Decision.CheckKey] checks a
// CSR key at finalize. [Replay] decides stored orders again under a
// candidate document as a dry run.
//
// The package decides; it does not change orders. The state machine calls
// it, refuses what it refuses, and writes the audit events recording the
// rule that decided.
package policy
