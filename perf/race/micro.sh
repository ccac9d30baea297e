# perf/race/micro.sh — sourced by scripts/bench --micro: runs the Google Benchmarks of
# perf/*_bench (each named layer/what/param) and writes them into the page's
# "## Micro-benchmarks" section, keeping the race above it and the sections of benches
# that were not run. Needs $bin, $work, $out.

run_micro() {
  local filter=$1 b name cmd
  local keep='^(core|net|reactor|framework|udp)/|^-{5}|^Benchmark|^Run on|^Load Average'
  for b in "$bin"/perf/*_bench; do
    name=$(basename "$b")
    [[ $name =~ $filter ]] || continue
    echo "== $name" >&2
    if "$b" --help 2>&1 | grep -q benchmark_filter; then
      cmd="$b --benchmark_min_time=0.2 --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true"
      {
        echo "### $name"
        echo
        echo "\`$build_dir/${cmd#"$bin"/}\` (source: \`perf/$name.cpp\`, whose header says what each case measures; medians of 3 repetitions)"
        echo
        echo '```'
        $cmd 2>&1 | grep -E "$keep|_median" | grep -Ev '_(mean|stddev|cv) '
        echo '```'
        echo
      } >"$work/$name.md"
    else
      cmd=$b
      { echo "### $name"; echo; echo "\`$build_dir/${cmd#"$bin"/}\` (source: \`perf/$name.cpp\`)"; echo; echo '```'; $cmd 2>&1; echo '```'; echo; } >"$work/$name.md"
    fi
  done
  {
    if [ -f "$out" ]; then awk '/^## Micro-benchmarks/ { exit } { print }' "$out"; else echo "# Benchmarks"; echo; fi
    echo "## Micro-benchmarks"
    echo
    echo "Written by \`$command_line\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr),"
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end. Names are \`layer/what/param\`; run one with"
    echo "\`build/default/perf/<name>_bench --benchmark_filter=REGEX\`. Wall times on a shared VM move with"
    echo "the load: compare rows of one run with each other."
    echo
    for b in "$bin"/perf/*_bench; do
      name=$(basename "$b")
      if [ -f "$work/$name.md" ]; then
        cat "$work/$name.md"
      elif [ -f "$out" ]; then
        awk -v h="### $name" '$0 == h { p = 1; print; next } /^##/ { p = 0 } p' "$out"
      fi
    done
  } >"$work/page.md"
  mv "$work/page.md" "$out"
  echo "wrote $out" >&2
}
