#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ (or
# $SB_FUZZ_BUILD_DIR) and runs each for $SB_FUZZ_SECONDS seconds (default 60)
# on a copy of its checked-in seed corpus, so the corpus in the tree never
# grows. Fails when a target crashes, hits UB, leaks, times out or runs out
# of memory; the reproducer is kept in $build/fuzz-artifacts/<target>/.
# Runs one target per core at a time. Prints executions and coverage per
# target.
#
#   fuzz/run.sh                      # all targets
#   fuzz/run.sh fuzz_http            # some targets
#   SB_FUZZ_SECONDS=600 fuzz/run.sh  # longer
#   SB_FUZZ_SEED=1 fuzz/run.sh       # reproducible mutation sequence
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SB_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${SB_FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_codec fuzz_http fuzz_config fuzz_redis_reply)

for tool in clang clang++; do
    command -v "$tool" >/dev/null || { echo "fuzz/run.sh: $tool not found (apt-get install clang libclang-rt-dev)" >&2; exit 1; }
done

echo "== configuring and building $build (clang, -fsanitize=fuzzer,address,undefined)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DSB_BUILD_FUZZERS=ON -DBUILD_TESTING=OFF -DSB_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "${SB_FUZZ_JOBS:-2}" --target "${targets[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/sb-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Inputs larger than libFuzzer's default 4096 bytes where a limit lies beyond it.
max_len() {
    case $1 in
        fuzz_http) echo 20000 ;;   # past the 16 KiB head limit and the 8 KiB request-line limit
        fuzz_codec) echo 9000 ;;   # past the 4000-character chat text limit
        *) echo 4096 ;;
    esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ -f "$root/fuzz/lsan.supp" ]; then
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/fuzz/lsan.supp:print_suppressions=0}
fi
# No Qt plug-ins, no log noise from Qt itself.
export QT_LOGGING_RULES='*.debug=false;sb.*=false'

# fuzz_one TARGET: runs one target; its summary line goes to $work/TARGET.line.
fuzz_one() {
    local target=$1
    local binary=$build/fuzz/$target corpus=$work/$target
    local artifacts=$build/fuzz-artifacts/$target log=$build/fuzz-artifacts/$target.log
    mkdir -p "$artifacts"
    cp -r "$root/fuzz/corpus/$target" "$corpus"
    local seeds args rc=0
    seeds=$(find "$corpus" -type f | wc -l)
    args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
          -max_len="$(max_len "$target")" -artifact_prefix="$artifacts/")
    [ -f "$root/fuzz/$target.dict" ] && args+=(-dict="$root/fuzz/$target.dict")
    [ -n "${SB_FUZZ_SEED:-}" ] && args+=(-seed="$SB_FUZZ_SEED")
    echo "== $target: ${seconds}s from $seeds seeds"
    "$binary" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
    local execs rate rss last cov ft corp line what
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[bkKMm]*\).*/\1/p' <<<"$last")
    line=$(printf '%-17s execs %-9s exec/s %-6s cov %-5s ft %-6s corpus %-12s rss %sMB' \
        "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}")
    if [ "$rc" -ne 0 ]; then
        what=$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer): [a-zA-Z -]+|runtime error: .*|invariant broken: .*' "$log" || echo "exit $rc")
        line="$line  FAILED ($what)"
        {
            echo "-- $target failed (exit $rc); last lines of $log:"
            tail -n 60 "$log"
            echo "-- reproducer(s): $(ls "$artifacts" | sed "s|^|$artifacts/|" | tr '\n' ' ')"
            echo "-- rerun one: $binary <reproducer>"
        } >&2
    fi
    echo "$line" >"$work/$target.line"
    return "$rc"
}

# As many targets at once as there are cores (SB_FUZZ_PARALLEL): each is one
# single-threaded process, so the same fuzzing takes a fraction of the time.
parallel=${SB_FUZZ_PARALLEL:-$(nproc)}
status=0
running=0
for target in "${targets[@]}"; do
    if [ "$running" -ge "$parallel" ]; then
        wait -n || status=1
        running=$((running - 1))
    fi
    fuzz_one "$target" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || status=1
    running=$((running - 1))
done
summary=()
for target in "${targets[@]}"; do
    summary+=("$(cat "$work/$target.line" 2>/dev/null || echo "$target  FAILED (no result)")")
done

echo "== fuzzing summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$status"
