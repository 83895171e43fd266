#!/usr/bin/env bash
# The whole suite for `make test`. When PostgreSQL is tested too, its cases run in a second
# pytest process beside the rest (SQLite cases and backend-free tests), which halves the
# wall-clock time on a 2-core machine; both must pass, and both must have collected tests
# (pytest exits 5 otherwise). Arguments go to both pytest processes.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
plan=$($PY -c 'from tests.conftest import _plan; print(",".join(_plan()[0]))') || exit 1
if [[ ",$plan," != *",postgres,"* ]]; then
  exec $PY -m pytest "$@"
fi
mkdir -p var
log=var/test-postgres.log
echo "==> PostgreSQL cases in a second pytest process beside this one (its log: $log)"
KASSA_TEST_SHARD=postgres $PY -m pytest -p no:cacheprovider --basetemp=var/pytest-postgres \
  "$@" > "$log" 2>&1 &
pg=$!
trap 'kill $pg 2> /dev/null' INT TERM
KASSA_TEST_SHARD=rest $PY -m pytest --basetemp=var/pytest-rest "$@"
rest=$?
echo "==> Waiting for the PostgreSQL cases ($log)"
wait $pg
pgrc=$?
if [[ $pgrc -ne 0 ]]; then
  echo "==> The PostgreSQL cases FAILED (pytest exit $pgrc); the end of $log:"
  tail -n 400 "$log"
else
  echo "==> The PostgreSQL cases passed:"
  grep -E "kassa storage backends|^[0-9]+ (passed|failed)|passed|failed" "$log" | tail -n 3
fi
[[ $rest -eq 0 && $pgrc -eq 0 ]]
