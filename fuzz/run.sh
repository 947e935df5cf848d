#!/bin/sh
# Run every fuzz harness: first over its regression inputs (every crash
# ever found, kept in fuzz/regress/NAME/), then for FUZZ_SECONDS over a
# scratch copy of its seed corpus (fuzz/corpus/NAME/, left untouched).
# A crash fails the run; its input is printed and left in the work
# directory to be added to fuzz/regress/NAME/.
#   fuzz/run.sh BUILD_DIR [SECONDS]
set -u
build=$1
secs=${2:-60}
cd "$(dirname "$0")/.." || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/pinshim-fuzz.XXXXXX")
status=0
passed=0
failed=0
for bin in "$build"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	mkdir -p "$work/$name"
	cp fuzz/corpus/"$name"/* "$work/$name/" 2>/dev/null
	dict=""
	[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
	if ls fuzz/regress/"$name"/* >/dev/null 2>&1; then
		if ! "$bin" fuzz/regress/"$name"/* >"$work/$name.regress.log" 2>&1
		then
			echo "fuzz $name: a regression input crashes again:"
			tail -30 "$work/$name.regress.log"
			status=1
			failed=$((failed + 1))
			continue
		fi
	fi
	# shellcheck disable=SC2086
	if "$bin" $dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$work/$name-" -print_final_stats=1 \
	    "$work/$name" >"$work/$name.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		    "$work/$name.log")
		echo "fuzz $name: ok, $runs executions in ${secs}s"
		passed=$((passed + 1))
	else
		echo "fuzz $name: CRASH"
		tail -40 "$work/$name.log"
		ls "$work/$name"-* 2>/dev/null
		status=1
		failed=$((failed + 1))
	fi
done
if [ $((passed + failed)) -eq 0 ]; then
	echo "fuzz: no harness in $build (run make fuzz)"
	status=1
fi
echo "fuzz: $passed passed, $failed failed"
[ "$status" -eq 0 ] && rm -rf "$work"
exit "$status"
