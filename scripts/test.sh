#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy with warnings denied (with and
# without the `s3` feature), all tests on SQLite and PostgreSQL (unit,
# integration, access matrix, headless Chromium) and against an S3-compatible
# server (moto), and schemathesis against the OpenAPI document.
# Installs what a fresh machine lacks (Chromium, ChromeDriver, moto) first.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# PostgreSQL must answer on 127.0.0.1:5432 (every storage test runs on both backends).
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "== starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
export SHUYUN_TEST_PG_URL="${SHUYUN_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
# S3-compatible object storage is a cargo feature: lint both builds, test
# the one with it (local files stay the default configuration).
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo clippy -D warnings (feature s3)"
cargo clippy --workspace --all-targets --locked --features shuyun-cli/s3 -- -D warnings
echo "== moto (S3-compatible server for the S3 tests)"
moto_server="$(scripts/moto.sh)"
export SHUYUN_MOTO_SERVER="$moto_server"
echo "== cargo test (SQLite and PostgreSQL, browser tests in headless Chromium, S3 in moto)"
cargo test --workspace --locked --features shuyun-cli/s3
echo "== schemathesis against the OpenAPI document"
scripts/schemathesis.sh
