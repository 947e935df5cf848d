#!/usr/bin/env bash
# `make demo`: pinshim's main job in one minute, on loopback only.
#
#   the API      openssl s_server for api.test, certificate from "Test Root"
#   the attacker openssl s_server for api.test too, certificate from a rogue
#                inspection CA that the device DOES trust (as happens when a
#                corporate box, a rogue CA or a tester's proxy gets its CA in)
#   the app      curl, speaking plain HTTP to pinshim's tunnel listeners
#
# pinshim pins api.test to its real keys, so the request through the real
# path passes and the one routed through the attacker is refused, though
# both chains verify against the device's trust store.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PINSHIM=$PWD/$BUILD/pinshim
work=$(mktemp -d /tmp/pinshim-demo.XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	    shuf -i 20000-60000 -n 1
}

wait_port() {	# until 127.0.0.1:$1 accepts, at most 10 s
	for _ in $(seq 1 500); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.02
	done
	echo "demo: nothing listening on port $1" >&2
	return 1
}

wait_log() {	# until pattern $2 appears in file $1, at most 10 s
	for _ in $(seq 1 500); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "demo: no \"$2\" in $1" >&2
	return 1
}

say "1. a throw-away PKI (generated now, deleted at exit)"
sh tests/pki.sh "$work/pki" >/dev/null
pki=$work/pki
echo "   real chain:  api.test <- pinshim Test Intermediate <- pinshim Test Root"
echo "   rogue chain: api.test <- Rogue Inspection CA   (also in the device's trust store)"

api=$(free_port)
evil=$(free_port)
openssl s_server -quiet -www -accept "127.0.0.1:$api" -cert "$pki/leaf.pem" \
	-cert_chain "$pki/inter.pem" -key "$pki/leaf.key" >/dev/null 2>&1 &
pids+=($!)
openssl s_server -quiet -www -accept "127.0.0.1:$evil" -cert "$pki/rogue.pem" \
	-key "$pki/rogue.key" >/dev/null 2>&1 &
pids+=($!)
wait_port "$api"
wait_port "$evil"

say "2. the pins, computed by pinshim (identical to openssl's)"
"$PINSHIM" pin "$pki/leaf.pem" "$pki/backup.pem"
leaf=$("$PINSHIM" pin "$pki/leaf.pem" | cut -d' ' -f1)
backup=$("$PINSHIM" pin "$pki/backup.pem" | cut -d' ' -f1)

say "3. the built-in demo configuration"
echo "127.0.0.1 api.test" > "$work/hosts"
direct=$(free_port)
mitm=$(free_port)
cat > "$work/pinshim.ini" <<EOF
; Trust store = the real root AND the rogue CA: the CA check alone
; cannot tell the two chains apart. The pins can.
[upstream]
ca_file = $pki/ca.pem
hosts_file = $work/hosts
default_policy = block

[domain:api.test]
pins = $leaf, $backup
policy = pin

; the app's normal route to the API
[listen:api]
mode = tunnel
bind = 127.0.0.1:$direct
connect = api.test:$api

; the same app on a network where an inspection box answers for api.test
[listen:api-via-attacker]
mode = tunnel
bind = 127.0.0.1:$mitm
connect = api.test:$evil
EOF
sed 's/^/   /' "$work/pinshim.ini"
"$PINSHIM" run -t -c "$work/pinshim.ini"

"$PINSHIM" run -c "$work/pinshim.ini" 2>"$work/pinshim.log" &
pids+=($!)
wait_log "$work/pinshim.log" "pinshim started"

say "4. the app talks to the API through pinshim: passes"
if curl -sS -m 10 -o "$work/page" -w '   HTTP %{http_code}, %{size_download} bytes\n' \
    -H 'Host: api.test' "http://127.0.0.1:$direct/"; then
	wait_log "$work/pinshim.log" "verdict=pass"
	grep -h "verdict=pass" "$work/pinshim.log" | sed 's/^/   log: /'
else
	echo "demo: the pinned request failed" >&2
	exit 1
fi

say "5. the same app behind the attacker: refused, no byte relayed"
if curl -sS -m 10 -o /dev/null -H 'Host: api.test' \
    "http://127.0.0.1:$mitm/" 2>"$work/curl.err"; then
	echo "demo: the attacker's connection was NOT refused" >&2
	exit 1
fi
echo "   curl: $(cat "$work/curl.err")"
wait_log "$work/pinshim.log" "verdict=refuse"
grep -h "verdict=refuse" "$work/pinshim.log" | sed 's/^/   log: /'

say "done: the pinned connection passed, the rogue-CA connection was refused"
