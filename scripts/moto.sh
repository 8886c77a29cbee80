#!/usr/bin/env bash
# Prints the path of moto's S3-compatible server, `moto_server` (PyPI), after
# installing it into a venv under the cache directory if it is not there yet.
# The S3 tests (crates/shuyun-cli/tests/s3.rs) start it on a loopback port.
set -euo pipefail
venv="${SHUYUN_S3_VENV:-$HOME/.cache/shuyun/venv-s3}"
version=5.2.5
if ! "$venv/bin/python" -c "import sys, flask, flask_cors, moto; sys.exit(moto.__version__ != '$version')" 2>/dev/null; then
  echo "== installing moto $version (S3 test server) into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "moto[s3]==$version" "flask==3.1.3" "flask-cors==6.0.5" >&2
fi
echo "$venv/bin/moto_server"
