#!/usr/bin/env bash
# Runs `npm start` as a new user would (embedded Postgres unless DATABASE_URL is set), sends the
# README's curl request and checks that the event was accepted.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-3917}"
LOG="$(mktemp)"
# Its own process group, so that Ctrl-C reaches npm, the Nest CLI and the app alike.
PORT="$PORT" setsid npm start >"$LOG" 2>&1 &
PID=$!
cleanup() {
  kill -INT -- "-$PID" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$PID" 2>/dev/null || return 0; sleep 1; done
  kill -KILL -- "-$PID" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 120); do
  grep -q "Listening on http://localhost" "$LOG" && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG"; echo "npm start exited early"; exit 1; }
  sleep 1
done
BODY='{"createdAt":"2026-11-22T10:00:00Z","type":"provisioning.start","object":{"productId":"prod_pro","customerId":"owner_smoke","startDate":"2026-11-22T00:00:00Z","endDate":"2026-12-22T00:00:00Z","provisioningOrgs":{"name":"Acme","users":[{"name":"Ada","email":"ada@acme.test"}]}}}'
ANSWER="$(curl -s -w ' %{http_code}' -X POST "http://localhost:$PORT/webhooks/aqueduct" \
  -H 'Content-Type: application/json' \
  -H 'Authorization: Bearer whsec_ZGV2ZWxvcG1lbnQtc2VjcmV0LWRvLW5vdC11c2U=' \
  -d "$BODY")"
echo "npm start answered: $ANSWER"
[[ "$ANSWER" == *'"received":true'*' 200' ]] || { cat "$LOG"; exit 1; }
