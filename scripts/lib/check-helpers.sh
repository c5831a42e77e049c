# shellcheck shell=bash
# What scripts/host-app-check/run.sh and scripts/nest12-check/run.sh share: their temporary folder,
# logging and process helpers, the choice of Postgres and the check's own database, and the EXIT
# trap that cleans up and prints the check's last line. Sourced, never run.
#
# Before sourcing it, a check (under `set -euo pipefail`, in the repository's root) sets:
#   CHECK_NAME       its name (host-app-check), in every line it prints, its temporary folder's and
#                    (with _ for -) its database's name;
#   CHECK_KEEP       1 to keep the temporary folder (its own *_KEEP variable);
#   CHECK_LOCAL_PG   the machine-Postgres URL tried when DATABASE_URL is unset;
#   CHECK_LOG_LINES  how many last lines of a failed stage's log to show;
# and, before it can fail, defines its last line: check_passed SECONDS and check_failed SECONDS.
#
# Sourcing creates WORK (the temporary folder), sets the state below, installs the traps and exports
# NO_COLOR=1 (plain Nest logs).

# The Postgres helper (ping, create, drop, embedded), run with the repo's node_modules.
PG="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/nest12-check/pg.cjs"
STARTED=$SECONDS

WORK="$(mktemp -d "${TMPDIR:-/tmp}/$CHECK_NAME.XXXXXX")"
# A host app the check runs in the background, and its log: shown on failure, stopped at the end.
APP_PID=""
APP_LOG="$WORK/app.log"
PG_PID=""
ADMIN_URL=""
PG_SOURCE=""
CHECK_URL=""
DB_NAME=""
STAGE="setup"
STAGE_LOG=""

say() { echo "=== $CHECK_NAME: $*"; }
fail() {
  echo "$CHECK_NAME: $*" >&2
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

# build_and_pack: builds libs/aqueduct and packs it into $WORK/pack; sets TARBALL_PATH.
build_and_pack() {
  STAGE="build the library"
  say "$STAGE (tsc -p libs/aqueduct/tsconfig.lib.json)"
  mkdir -p "$WORK/pack"
  logged "$WORK/build.log" "$PWD" npx --no-install tsc -p libs/aqueduct/tsconfig.lib.json

  STAGE="npm pack"
  say "$STAGE libs/aqueduct"
  # Built just above, so the package's own prepack (the same tsc) is skipped.
  logged "$WORK/pack.log" libs/aqueduct npm pack --ignore-scripts --pack-destination "$WORK/pack"
  local tarballs=("$WORK"/pack/*.tgz)
  [[ ${#tarballs[@]} == 1 && -f ${tarballs[0]} ]] || fail "npm pack did not produce one tarball"
  TARBALL_PATH="${tarballs[0]}"
  say "packed $(basename "$TARBALL_PATH")"
}

# no_skipped_install_scripts DIR PACKAGE_JSON: fails when npm skipped a dependency's install script.
# npm 11 skips dependencies' install scripts unless allowed (allowScripts); none is needed today.
# If one appears, say so rather than fail somewhere obscure later.
no_skipped_install_scripts() {
  local skipped
  if skipped="$(cd "$1" && npm install-scripts ls 2>/dev/null)" && [[ $skipped != *"No packages"* ]]; then
    fail "install scripts were skipped (add them to allowScripts in $2): $skipped"
  fi
}

# use_postgres: DATABASE_URL when set, else CHECK_LOCAL_PG when it answers, else a throw-away
# embedded Postgres; creates the check's own database there (dropped by the EXIT trap). Sets
# ADMIN_URL, PG_SOURCE, CHECK_URL (the check's database) and DB_NAME.
use_postgres() {
  if [[ -n ${DATABASE_URL:-} ]]; then
    ADMIN_URL="$DATABASE_URL"
    node "$PG" ping "$ADMIN_URL" || fail "DATABASE_URL ($(redact "$ADMIN_URL")) does not answer"
    PG_SOURCE="DATABASE_URL $(redact "$ADMIN_URL")"
  elif node "$PG" ping "$CHECK_LOCAL_PG"; then
    ADMIN_URL="$CHECK_LOCAL_PG"
    PG_SOURCE="$CHECK_LOCAL_PG"
  else
    say "no Postgres at $CHECK_LOCAL_PG: starting an embedded one"
    STAGE_LOG="$WORK/pg.log"
    setsid node "$PG" embedded >"$WORK/pg.log" 2>&1 &
    PG_PID=$!
    wait_for_line "$WORK/pg.log" '^URL ' "$PG_PID" 120 || fail "the embedded Postgres did not start"
    STAGE_LOG=""
    ADMIN_URL="$(sed -n 's/^URL //p' "$WORK/pg.log" | head -n 1)"
    PG_SOURCE="embedded Postgres $(redact "$ADMIN_URL")"
  fi
  local name
  name="${CHECK_NAME//-/_}_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  CHECK_URL="$(node "$PG" create "$ADMIN_URL" "$name")"
  DB_NAME="$name"
  say "database $DB_NAME on $PG_SOURCE"
}

# The EXIT trap: on failure shows the failed stage's log (and the host app's); stops the host app,
# drops the database, stops the embedded Postgres, removes WORK (unless CHECK_KEEP=1); prints the
# check's last line and exits with the check's status (1 if the database could not be dropped).
check_cleanup() {
  local status=$?
  set +e
  if ((status != 0)); then
    [[ -n $STAGE_LOG && -s $STAGE_LOG ]] && {
      echo "--- $STAGE_LOG (last $CHECK_LOG_LINES lines)"
      tail -n "$CHECK_LOG_LINES" "$STAGE_LOG"
    }
    [[ -n $APP_PID && -s $APP_LOG ]] && { echo "--- host app log (last 40 lines)"; tail -n 40 "$APP_LOG"; }
  fi
  if [[ -n $APP_PID ]]; then
    stop_process "$APP_PID" 20
  fi
  if [[ -n $DB_NAME ]]; then
    if ! node "$PG" drop "$ADMIN_URL" "$DB_NAME"; then
      echo "$CHECK_NAME: could not drop database $DB_NAME" >&2
      status=1
    fi
  fi
  if [[ -n $PG_PID ]]; then
    stop_process "$PG_PID" 30 || echo "$CHECK_NAME: the embedded Postgres had to be killed" >&2
  fi
  if [[ $CHECK_KEEP == 1 ]]; then
    echo "$CHECK_NAME: kept $WORK"
  else
    rm -rf "$WORK"
  fi
  local took=$((SECONDS - STARTED))
  if ((status == 0)); then
    check_passed "$took"
  else
    check_failed "$took"
  fi
  exit "$status"
}
trap check_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export NO_COLOR=1 # plain Nest logs
