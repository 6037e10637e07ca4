#!/bin/bash
# security_threat_model (issue 13 item 8): docs/security.md's threat-model
# table is true about its tests. Every row names at least one test in its
# last column, and every test name there (a backticked name ending in _test
# or starting with an area prefix: security_, collector_, agent_, store_,
# broker_, config_, packaging_, phone_, demo_, lifecycle_, roads_) is a test
# registered in this build's CTest (so run by tools/test). Every finding and
# finding of issue 13, and its items 5 (consent) and 6 (the encrypted
# outbox), has its row (the asset cell says "issue 13, finding N" / "item N").
set -euo pipefail
: "${ODO_SOURCE_DIR:?}" "${ODO_BINARY_DIR:?}"
ctest --test-dir "$ODO_BINARY_DIR" -N | awk '/Test +#/ {print $3}' >"${TMPDIR:-/tmp}/odo-ctest-names.$$"
trap 'rm -f "${TMPDIR:-/tmp}/odo-ctest-names.$$"' EXIT
python3 - "$ODO_SOURCE_DIR/docs/security.md" "${TMPDIR:-/tmp}/odo-ctest-names.$$" <<'PY'
import re, sys
doc = open(sys.argv[1]).read()
names = set(open(sys.argv[2]).read().split())
lines = doc.split("\n")
start = next(i for i, l in enumerate(lines) if l.startswith("| asset | attacker | control | test |"))
rows = []
for l in lines[start + 2:]:
    if not l.startswith("|"):
        break
    rows.append(l)
pat = re.compile(r"^(?:[a-z0-9_]+_test|(?:security|collector|agent|store|broker|config|packaging|phone|demo|lifecycle|roads)_[a-z0-9_]+)$")
bad, seen, n = [], set(), 0
for r in rows:
    cells = [c.strip() for c in r.strip("|").split("|")]
    if len(cells) != 4:
        bad.append("a row without 4 cells: %s" % r[:80])
        continue
    tests = [t for t in re.findall(r"`([^`]+)`", cells[3]) if pat.match(t)]
    if not tests:
        bad.append("row '%s' names no test" % cells[0][:60])
    for t in tests:
        n += 1
        if t not in names:
            bad.append("row '%s' names `%s`, which is not a CTest test" % (cells[0][:60], t))
    seen |= {"%s %s" % m for m in re.findall(r"issue 13, (finding|item) (\d)", cells[0])}
# issue 13: each of its six findings, and the items that answer no finding
# (5 consent, 6 the encrypted outbox); item 8 is this table itself
want = {"finding %d" % i for i in range(1, 7)} | {"item 5", "item 6"}
if not want <= seen:
    bad.append("issue 13 findings/items without a row: %s" % sorted(want - seen))
if bad:
    print("\n".join("FAIL: " + b for b in bad), file=sys.stderr)
    sys.exit(1)
print("ok: %d rows, %d test names, every one registered in CTest; issue 13 rows: %s" % (len(rows), n, sorted(seen)))
PY
