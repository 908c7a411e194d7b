#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is missing,
# builds, starts a private Redis and PostgreSQL on free loopback ports, runs
# every CTest test against them, and stops everything it started.
#
# It fails when a test fails, when fewer tests ran than the suite defines, or
# when a QtTest case skipped: a test whose service or tool is missing fails by
# itself (SB_REQUIRE_SERVICE, tests/support/testsupport.h) unless
# SB_ALLOW_SKIP=1, which a developer may set (never honoured under CI).
# Under CI (env CI non-empty) or with SB_SANITIZE=1 the suite then runs a
# second time in build-asan, built with AddressSanitizer and
# UndefinedBehaviorSanitizer, where any finding fails its test.
# After the suite it runs packaging/check-packaging.sh (the .debs, lintian,
# install and purge, the systemd units, HAProxy/nginx, Prometheus and the
# container files); its failure fails the run too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
CI=${CI:-}
if [ -n "$CI" ] && [ "${SB_ALLOW_SKIP:-0}" != 0 ]; then
    echo "run-all: SB_ALLOW_SKIP is ignored under CI: every test must run" >&2
fi
[ -z "$CI" ] || export SB_ALLOW_SKIP=0

"$root/packaging/install-deps.sh"
"$root/packaging/build.sh"
build=${SB_BUILD_DIR:-$root/build}

source "$root/tests/services.sh"
trap sb_services_stop EXIT
sb_services_start

# run_suite DIR [ctest arguments…]: runs the tests of DIR, then checks from
# ctest's JUnit report that every test the suite defines (with the same
# arguments) ran, and that no QtTest case skipped.
run_suite() {
    local dir=$1
    shift
    local report="$dir/ctest-junit.xml" defined status=0
    defined=$(cd "$dir" && ctest -N "$@" | sed -n 's/^Total Tests: *//p')
    rm -f "$report"
    # Passed tests' output is kept whole (ctest cuts it at 1 KiB) so that
    # their SKIP lines reach the report.
    (cd "$dir" && ctest --output-on-failure --timeout 600 -j 2 --output-junit "$report" \
        --test-output-size-passed 16000000 "$@") || status=$?
    python3 - "$report" "${defined:-0}" "${SB_ALLOW_SKIP:-0}" "$dir" <<'PY' || status=1
import re, sys, xml.etree.ElementTree as ET
report, defined, allow_skip, where = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
try:
    cases = list(ET.parse(report).getroot().iter("testcase"))
except (OSError, ET.ParseError) as e:
    sys.exit(f"run-all: FAILED: no test report from ctest in {where} ({e})")
ran = [c for c in cases if c.get("status") in ("run", "fail")]
problems = [f"{c.get('name')} did not run (ctest status {c.get('status')})" for c in cases if c not in ran]
skipped = []
for c in ran:
    out = "".join(e.text or "" for e in c.iter("system-out"))
    lines = [l[len("SKIP   :"):].strip() for l in out.splitlines() if l.startswith("SKIP   :")]
    totals = sum(int(n) for n in re.findall(r"^Totals: .*?(\d+) skipped", out, re.M))
    if lines or totals:
        skipped.append((c.get("name"), max(len(lines), totals), lines))
if len(ran) < defined:
    problems.insert(0, f"only {len(ran)} of the {defined} tests the suite defines ran")
for name, count, lines in skipped:
    print(f"run-all: {name}: {count} case(s) skipped" + "".join(f"\n    {l}" for l in lines), file=sys.stderr)
if skipped and not allow_skip:
    problems.append(f"{len(skipped)} test program(s) skipped cases; in this suite a skip is a failure "
                    "(install what they name, or set SB_ALLOW_SKIP=1 on a developer machine)")
if problems:
    sys.exit(f"run-all: FAILED in {where}:\n  " + "\n  ".join(problems))
print(f"run-all: {len(ran)} of {defined} tests ran in {where}" + (", some cases skipped (SB_ALLOW_SKIP=1)" if skipped else ", none skipped"))
PY
    return "$status"
}

suite_status=0
run_suite "$build" "$@" || suite_status=$?
# The packages, units, load-balancer, container and monitoring files, from the
# same build (README, "Packages and containers"); it runs even when a test
# failed, and either failing fails the run.
packaging_status=0
"$root/packaging/check-packaging.sh" || packaging_status=$?
[ "$suite_status" -eq 0 ] && [ "$packaging_status" -eq 0 ] || exit 1
if [ -n "$CI" ] || [ "${SB_FUZZ:-}" = 1 ]; then "$root/fuzz/run.sh"; fi  # libFuzzer targets, ~3 min (docs/reliability.md)

if [ -n "$CI" ] || [ "${SB_SANITIZE:-0}" = 1 ]; then
    # The same suite on an ASan+UBSan build: a memory error, a leak in our code
    # or undefined behaviour stops the process and fails its test.
    # Qt's and the system libraries' own one-time allocations are suppressed
    # in tests/lsan.supp; our code is never.
    asan=${SB_ASAN_BUILD_DIR:-$root/build-asan}
    sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer"
    SB_BUILD_DIR=$asan SB_BUILD_TYPE=Debug "$root/packaging/build.sh" \
        -DCMAKE_CXX_FLAGS="$sanitize" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DSB_BUILD_BENCH=OFF
    # Reports go to files, so that a finding in a server process a test
    # started (its output is a log in a temporary directory) fails the run too.
    reports="$asan/sanitizer-reports"
    rm -rf "$reports" && mkdir -p "$reports"
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$reports/asan"
    export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:report_error_type=1:log_path=$reports/ubsan"
    status=0
    # The chaos test (label "chaos", ~5 min of faults under load) proves
    # behaviour, not memory safety, and runs once, in the plain pass; the same
    # arguments go to `ctest -N`, so "every defined test ran" still holds.
    run_suite "$asan" -LE chaos "$@" || status=$?
    if compgen -G "$reports/*" >/dev/null; then
        echo "run-all: FAILED: AddressSanitizer/UndefinedBehaviorSanitizer reports:" >&2
        for report in "$reports"/*; do echo "== $report" >&2; cat "$report" >&2; done
        status=1
    fi
    exit "$status"
fi
