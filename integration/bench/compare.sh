#!/usr/bin/env bash
# compare.sh measures certificate issuance of acmegate, step-ca and Pebble
# with the bench program beside it, on this machine, over loopback only.
#
# For each round, pinning mode, concurrency and client mode it runs every
# server once, in turn, each on a fresh data folder: servers alternate so
# that drift of the machine touches all of them alike. A run that times
# out is run once more. At the end it prints the median of each group and
# the ratios acmegate/step-ca and acmegate/pebble (bench summarise).
#
# Usage (from anywhere; every setting is an environment variable):
#
#   integration/bench/compare.sh
#   N=60 ROUNDS=1 CONCURRENCY="1 4" MODES=unpinned integration/bench/compare.sh
#   # time to a certificate with the stock lego client, Pebble fewer times
#   CLIENTS=lego N=100 N_PEBBLE=40 CONCURRENCY=4 MODES=unpinned \
#       integration/bench/compare.sh
#
#   N            certificates per run (300)
#   N_ACMEGATE, N_STEP_CA, N_PEBBLE  certificates per run for one server
#                (default N); Pebble with the lego client takes seconds
#                per certificate
#   CLIENTS      client modes of the bench (-client): "api" drives lego's
#                protocol layer with short capped polls (the server's own
#                speed), "lego" runs lego's Certifier.Obtain with its own
#                waits (what a lego user waits for); "api lego" runs both
#                in turn for each server ("api")
#   CONCURRENCY  client counts to run ("1 4 16")
#   ROUNDS       rounds; medians are over rounds (3)
#   MODES        "unpinned pinned"; pinned runs the server on CPU 0 and
#                the bench on CPU 1 with taskset
#   SERVERS      "acmegate step-ca pebble"
#   RUN_TIMEOUT  seconds one bench run may take (300)
#   OUT          folder for tools, logs and results (a new temporary one)
#   PEBBLE_VERSION, STEPCA_VERSION  versions to install (v2.10.3, v0.30.2)
#   HTTP01_PORT, DNS_ADDR, ACMEGATE_ADDR, PEBBLE_ADDR, PEBBLE_MGMT_ADDR,
#   PEBBLE_TLS_PORT, STEPCA_ADDR  loopback ports and addresses (5002,
#                127.0.0.1:8053, :14443, :14000, :15000, 5001, :9443);
#                change them to run beside another compare.sh
#
# Pebble and step-ca are installed with `go install` at fixed versions; a
# server whose install fails is skipped with a message. The names ordered
# resolve only through the bench's own DNS server (A 127.0.0.1 for every
# name), which each server is told to use for validation.
set -euo pipefail

N=${N:-300}
CONCURRENCY=${CONCURRENCY:-"1 4 16"}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-"unpinned pinned"}
SERVERS=${SERVERS:-"acmegate step-ca pebble"}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
OUT=${OUT:-$(mktemp -d /tmp/acmegate-compare.XXXXXX)}

PEBBLE_VERSION=${PEBBLE_VERSION:-v2.10.3}
STEPCA_VERSION=${STEPCA_VERSION:-v0.30.2}

CLIENTS=${CLIENTS:-api}

# Loopback ports: the responders of the bench, and each server's HTTPS.
# PEBBLE_TLS_PORT is only dialled, for tls-alpn-01, which is not used.
HTTP01_PORT=${HTTP01_PORT:-5002}
DNS_ADDR=${DNS_ADDR:-127.0.0.1:8053}
ACMEGATE_ADDR=${ACMEGATE_ADDR:-127.0.0.1:14443}
PEBBLE_ADDR=${PEBBLE_ADDR:-127.0.0.1:14000}
PEBBLE_MGMT_ADDR=${PEBBLE_MGMT_ADDR:-127.0.0.1:15000}
PEBBLE_TLS_PORT=${PEBBLE_TLS_PORT:-5001}
STEPCA_ADDR=${STEPCA_ADDR:-127.0.0.1:9443}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$OUT/bin
RESULTS=$OUT/results.jsonl
mkdir -p "$BIN" "$OUT/logs"
: >"$RESULTS"

log() { printf 'compare: %s\n' "$*" >&2; }

# --- tools -----------------------------------------------------------------

build_tools() {
	log "building acmegate and the bench into $BIN"
	(cd "$REPO" && go build -o "$BIN/acmegate" ./cmd/acmegate &&
		go build -o "$BIN/bench" ./integration/bench)

	local available=""
	for s in $SERVERS; do
		case $s in
		acmegate) available+=" acmegate" ;;
		pebble)
			if GOBIN=$BIN go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" \
				>"$OUT/logs/install-pebble.log" 2>&1; then
				available+=" pebble"
			else
				log "SKIPPING pebble: go install pebble@$PEBBLE_VERSION failed" \
					"(see $OUT/logs/install-pebble.log)"
			fi
			;;
		step-ca)
			if CGO_ENABLED=0 GOBIN=$BIN go install \
				"github.com/smallstep/certificates/cmd/step-ca@$STEPCA_VERSION" \
				>"$OUT/logs/install-step-ca.log" 2>&1; then
				available+=" step-ca"
			else
				log "SKIPPING step-ca: go install step-ca@$STEPCA_VERSION failed" \
					"(see $OUT/logs/install-step-ca.log)"
			fi
			;;
		*) log "unknown server $s" && exit 2 ;;
		esac
	done
	SERVERS=${available# }
	if [[ -z $SERVERS ]]; then
		log "no server to run"
		exit 1
	fi
}

# --- servers -----------------------------------------------------------------
# start_<server> DIR PREFIX starts one server on a fresh DIR, prefixed by
# PREFIX (empty, or a taskset command), and sets SERVER_PID, DIRECTORY,
# ROOT (the root issued chains verify to) and TLS_ROOT.

start_acmegate() {
	local dir=$1
	shift
	"$@" "$BIN/acmegate" serve --data "$dir/data" --listen "$ACMEGATE_ADDR" \
		--http01-port "$HTTP01_PORT" --dns-resolver "$DNS_ADDR" >"$dir/server.log" 2>&1 &
	SERVER_PID=$!
	DIRECTORY=https://$ACMEGATE_ADDR/acme/directory
	ROOT=$dir/data/root.pem
	TLS_ROOT=$ROOT
	wait_for_file "$ROOT" && wait_for_directory
}

pebble_module_dir() {
	echo "$(go env GOMODCACHE)/github.com/letsencrypt/pebble/v2@$PEBBLE_VERSION"
}

start_pebble() {
	local dir=$1
	shift
	local mod
	mod=$(pebble_module_dir)
	# retryAfter is capped by the bench's api mode, and lego's Certifier
	# does not read it: Pebble puts it on polled authorizations and orders,
	# not on the challenge response lego takes its first wait from. tlsPort
	# is only dialled for tls-alpn-01, which the bench does not use.
	cat >"$dir/pebble.json" <<EOF
{
  "pebble": {
    "listenAddress": "$PEBBLE_ADDR",
    "managementListenAddress": "$PEBBLE_MGMT_ADDR",
    "certificate": "$mod/test/certs/localhost/cert.pem",
    "privateKey": "$mod/test/certs/localhost/key.pem",
    "httpPort": $HTTP01_PORT,
    "tlsPort": $PEBBLE_TLS_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false,
    "retryAfter": {"authz": 1, "order": 1},
    "keyAlgorithm": "ecdsa",
    "profiles": {"default": {"description": "bench", "validityPeriod": 86400}}
  }
}
EOF
	PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
		"$@" "$BIN/pebble" -config "$dir/pebble.json" -dnsserver "$DNS_ADDR" \
		>"$dir/server.log" 2>&1 &
	SERVER_PID=$!
	DIRECTORY=https://$PEBBLE_ADDR/dir
	TLS_ROOT=$mod/test/certs/pebble.minica.pem
	ROOT=$dir/root.pem
	wait_for_directory || return 1
	# Pebble makes a new root at every start; its management interface
	# serves it.
	curl -fsS --cacert "$TLS_ROOT" "https://$PEBBLE_MGMT_ADDR/roots/0" >"$ROOT"
}

# make_stepca_pki writes a P-256 root and intermediate for step-ca, with
# the intermediate key encrypted under a password file, as `step ca init`
# would, without the step CLI.
make_stepca_pki() {
	local pki=$OUT/stepca-pki
	[[ -f $pki/intermediate_ca.crt ]] && return 0
	mkdir -p "$pki"
	head -c 24 /dev/urandom | base64 >"$pki/password"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-aes-256-cbc -pass "file:$pki/password" -out "$pki/root_ca_key" 2>/dev/null
	openssl req -x509 -new -key "$pki/root_ca_key" -passin "file:$pki/password" \
		-subj "/CN=bench step-ca Root CA" -days 30 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:1" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$pki/root_ca.crt"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-aes-256-cbc -pass "file:$pki/password" -out "$pki/intermediate_ca_key" 2>/dev/null
	openssl req -new -key "$pki/intermediate_ca_key" -passin "file:$pki/password" \
		-subj "/CN=bench step-ca Intermediate CA" -out "$pki/intermediate.csr"
	printf '%s\n' "basicConstraints=critical,CA:TRUE,pathlen:0" \
		"keyUsage=critical,digitalSignature,keyCertSign,cRLSign" \
		"subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$pki/intermediate.ext"
	openssl x509 -req -in "$pki/intermediate.csr" -CA "$pki/root_ca.crt" \
		-CAkey "$pki/root_ca_key" -passin "file:$pki/password" -CAcreateserial \
		-days 30 -sha256 -extfile "$pki/intermediate.ext" -out "$pki/intermediate_ca.crt" 2>/dev/null
}

start_stepca() {
	local dir=$1
	shift
	local pki=$OUT/stepca-pki
	make_stepca_pki
	# One ACME provisioner and the default Badger database, as `step ca
	# init --acme` writes.
	cat >"$dir/ca.json" <<EOF
{
  "root": "$pki/root_ca.crt",
  "crt": "$pki/intermediate_ca.crt",
  "key": "$pki/intermediate_ca_key",
  "address": "$STEPCA_ADDR",
  "dnsNames": ["127.0.0.1", "localhost"],
  "logger": {"format": "text"},
  "db": {"type": "badgerv2", "dataSource": "$dir/db"},
  "authority": {
    "provisioners": [{"type": "ACME", "name": "acme", "challenges": ["http-01"]}]
  }
}
EOF
	"$@" "$BIN/step-ca" "$dir/ca.json" --password-file "$pki/password" \
		--insecure --acme-http-port "$HTTP01_PORT" --resolver "$DNS_ADDR" \
		>"$dir/server.log" 2>&1 &
	SERVER_PID=$!
	DIRECTORY=https://$STEPCA_ADDR/acme/acme/directory
	ROOT=$pki/root_ca.crt
	TLS_ROOT=$ROOT
	wait_for_directory
}

wait_for_file() {
	for _ in $(seq 1 300); do
		[[ -s $1 ]] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

wait_for_directory() {
	for _ in $(seq 1 300); do
		if [[ -s $TLS_ROOT ]] &&
			curl -fsS --max-time 2 --cacert "$TLS_ROOT" "$DIRECTORY" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

stop_server() {
	[[ -n ${SERVER_PID:-} ]] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}
trap stop_server EXIT

# --- runs --------------------------------------------------------------------

# runs_for SERVER prints N, or N_<SERVER> when set (N_STEP_CA for step-ca).
runs_for() {
	local var=N_${1//-/_}
	var=${var^^}
	echo "${!var:-$N}"
}

# run_once SERVER MODE C CLIENT ROUND TRY: one fresh server, one bench run.
# It returns the bench's exit status (2 or 124 for a hang).
run_once() {
	local server=$1 mode=$2 c=$3 client=$4 round=$5 try=$6
	local n
	n=$(runs_for "$server")
	local dir=$OUT/runs/$server-$mode-c$c-$client-r$round-t$try
	rm -rf "$dir" && mkdir -p "$dir"
	local srv_prefix=() bench_prefix=()
	if [[ $mode == pinned ]]; then
		srv_prefix=(taskset -c 0)
		bench_prefix=(taskset -c 1)
	fi
	local start=start_${server//-/}
	if ! "$start" "$dir" "${srv_prefix[@]}"; then
		log "$server did not start; see $dir/server.log"
		stop_server
		return 3
	fi
	local rc=0
	timeout --kill-after=10 $((RUN_TIMEOUT + 30)) "${bench_prefix[@]}" "$BIN/bench" \
		-directory "$DIRECTORY" -root "$ROOT" -tls-root "$TLS_ROOT" \
		-c "$c" -n "$n" -pid "$SERVER_PID" -http-port "$HTTP01_PORT" -dns-addr "$DNS_ADDR" \
		-client "$client" -timeout "${RUN_TIMEOUT}s" \
		-server "$server" -mode "$mode" -round "$round" \
		>"$dir/bench.out" 2>"$dir/bench.err" || rc=$?
	stop_server
	head -n 1 "$dir/bench.out" | sed "s/^/compare: $server $mode $client r$round: /" >&2 || true
	grep '^{' "$dir/bench.out" >>"$RESULTS" || true
	return "$rc"
}

# run SERVER MODE C CLIENT ROUND runs once, and once more after a hang.
run() {
	local rc=0
	run_once "$@" 1 || rc=$?
	if [[ $rc == 2 || $rc == 124 || $rc == 137 || $rc == 3 ]]; then
		# A timed-out run stays in the results: summarise counts it apart
		# and leaves it out of the medians.
		log "$1 $2 c=$3 $4 round $5 hung or failed to start (status $rc); running it again"
		run_once "$@" 2 || log "$1 $2 c=$3 $4 round $5 failed again (status $?)"
	fi
}

main() {
	for client in $CLIENTS; do
		case $client in
		api | lego) ;;
		*) log "unknown client mode $client" && exit 2 ;;
		esac
	done
	build_tools
	log "servers: $SERVERS; N=$N; c: $CONCURRENCY; clients: $CLIENTS; modes: $MODES;" \
		"rounds: $ROUNDS; out: $OUT"
	for round in $(seq 1 "$ROUNDS"); do
		for mode in $MODES; do
			for c in $CONCURRENCY; do
				for client in $CLIENTS; do
					for server in $SERVERS; do
						run "$server" "$mode" "$c" "$client" "$round"
					done
				done
			done
		done
	done
	"$BIN/bench" summarise "$RESULTS" | tee "$OUT/summary.md"
	log "results in $RESULTS, summary in $OUT/summary.md"
}

main
