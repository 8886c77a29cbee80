#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy with warnings denied, all tests
# on SQLite and PostgreSQL (unit, integration, access matrix, headless
# Chromium), and schemathesis against the OpenAPI document.
# Installs what a fresh machine lacks (Chromium, ChromeDriver) first.
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
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (SQLite and PostgreSQL, browser tests in headless Chromium)"
cargo test --workspace --locked
echo "== schemathesis against the OpenAPI document"
scripts/schemathesis.sh
