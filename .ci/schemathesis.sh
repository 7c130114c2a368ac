#!/usr/bin/env bash
# Fuzzes the live HTTP surface against its OpenAPI document: starts the AEM emulator (`assetsync sandbox`) and
# `assetsync serve` on free 127.0.0.1 ports, then runs schemathesis on every operation of
# `GET /api/v1/openapi.json` with the admin token and every check (`--checks all`): any 5xx, any status code,
# content type, header or body the document does not describe, a valid request refused or an invalid one
# accepted, auth that is ignored. What .ci/schemathesis.toml widens is written there with its reason. The
# webhooks' POSTs only ever get 401 (schemathesis cannot sign a delivery; a warning, not a failure): signed
# deliveries are the end-to-end tests' business (crates/cli/tests/it/webhook.rs).
# Usage: .ci/schemathesis.sh [assetsync binary]   (SCHEMATHESIS_MAX_EXAMPLES, SCHEMATHESIS_SEED to replay a run)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(realpath "${1:-target/debug/assetsync}")
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-25}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # URL, what
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "schemathesis: $2 did not answer at $1" >&2
  cat "$work"/*.log >&2
  exit 1
}

aem_port=$(free_port)
port=$(free_port)
token=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

(cd "$work" && exec "$bin" sandbox --port "$aem_port" --matcher-port 0 --keys-dir keys >sandbox.log 2>&1) &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$work/keys/pub-1.pem" ] && break; sleep 0.1; done

cat >"$work/assetsync.toml" <<TOML
listen = "127.0.0.1:$port"
database_url = "sqlite://assetsync.db"
admin_token = "$token"
[aem]
program_id = "142461"
environment_id = "1463137"
author_url = "http://127.0.0.1:$aem_port"
delivery_url = "http://127.0.0.1:$aem_port"
access_token = "sandbox-token"
[events]
recipient_client_id = "assetsync-demo"
public_keys = ["keys/pub-1.pem"]
key_host = "http://127.0.0.1:$aem_port"
[commerce]
kind = "builtin"
[metrics]
enabled = false
[sync]
enabled = true
sku_attribute = "commerce:skus"
TOML

(cd "$work" && exec "$bin" serve --config assetsync.toml >serve.log 2>&1) &
pids+=($!)
wait_for "http://127.0.0.1:$port/healthz" "assetsync serve"

# A product, so that the read API has a gallery to serve besides the 404s.
curl -fsS -o /dev/null -X PUT -H "authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/products/MH01"

# Run from the scratch folder: schemathesis keeps its state in ./.schemathesis.
report_dir=$(realpath -m "${SCHEMATHESIS_REPORT_DIR:-target/schemathesis}")
config=$(realpath .ci/schemathesis.toml)
cd "$work"
schemathesis --config-file "$config" run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --max-examples "$max_examples" \
  --seed "${SCHEMATHESIS_SEED:-$RANDOM}" \
  --workers 1 `# hypothesis's lambda descriptions call ast.parse, which is not thread-safe on CPython 3.11` \
  --generation-database none \
  --report junit --report-dir "$report_dir" \
  --no-color
