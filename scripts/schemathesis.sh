#!/usr/bin/env bash
# Property-based API testing: schemathesis (PyPI) generates requests from
# /api/v1/openapi.json against a freshly seeded demo server and checks that
# nothing answers 5xx and every response matches the document.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
venv="${SHUYUN_VENV:-$HOME/.cache/shuyun/venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
cargo build -q -p shuyun-cli --features s3 --locked
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SHUYUN_LOG_FORMAT=json "$target/debug/shuyun" demo --data-dir "$work/data" --listen "127.0.0.1:$port" 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
# A token of the platform administrator, so protected operations are exercised too.
curl -fs -c "$work/cookies" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"shuyun-demo-2026"}' "$base/api/v1/auth/login" >"$work/login.json"
csrf="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$work/login.json")"
token="$(curl -fs -b "$work/cookies" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
  -d '{"name":"schemathesis","expires_in_days":1}' "$base/api/v1/me/tokens" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
# Excluded, and covered by the integration tests instead: operations that
# would revoke or disable the very credential the run uses (token revocation,
# user and organisation disabling). Check ST202 (positive_data_acceptance) is
# off because JSON Schema cannot express check digits (统一社会信用代码),
# password composition or references to existing objects: such requests are
# schema-valid and rightly refused with 422.
"$venv/bin/schemathesis" run "$base/api/v1/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --exclude-path-regex '/tokens/\{id\}$|/disable$' \
  --max-examples "${SHUYUN_SCHEMATHESIS_EXAMPLES:-30}" \
  --seed 2026 \
  --no-color
