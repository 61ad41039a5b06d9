#!/usr/bin/env bash
# Builds and runs rekt's fuzz targets with cargo-fuzz on the stable toolchain.
#
#   fuzz/run.sh install                 # cargo install cargo-fuzz --locked (once)
#   fuzz/run.sh list                    # the targets
#   fuzz/run.sh build                   # build every target
#   fuzz/run.sh run TARGET [SECONDS]    # fuzz one target (default 300 s), nice'd, 1 job
#   fuzz/run.sh all [SECONDS]           # every target in turn, one at a time
#   fuzz/run.sh cmin TARGET             # minimize TARGET's corpus
#   fuzz/run.sh check                   # replay corpora, seeds, regressions (no fuzzing)
#
# cargo-fuzz passes nightly-only rustc flags (-Z...). RUSTC_BOOTSTRAP=1 lets the stable
# compiler accept them. Set FUZZ_SANITIZER=none when the AddressSanitizer runtime is
# missing (default: address). Each run's libFuzzer log goes to fuzz/logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-address}
targets=(proc_net_line sock_diag_reply port_spec duration text)

corpus_args() { # the corpus to grow first, then the seeds and regressions (read only)
  local dirs=("corpus/$1") d
  for d in "seeds/$1" "regressions/$1"; do
    if [ -d "$d" ]; then dirs+=("$d"); fi
  done
  printf '%s\n' "${dirs[@]}"
}

run_one() {
  local target=$1 seconds=${2:-300}
  mkdir -p "corpus/$target" logs "artifacts/$target"
  mapfile -t dirs < <(corpus_args "$target")
  # With -jobs, libFuzzer runs the fuzzer as a child that logs to fuzz-0.log here.
  [ -f fuzz-0.log ] && mv fuzz-0.log logs/stale-fuzz-0.log
  echo "fuzzing $target for ${seconds}s (sanitizer: $sanitizer), log: fuzz/logs/$target.log"
  nice -n 19 cargo fuzz run -s "$sanitizer" "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -jobs=1 -workers=1 -print_final_stats=1 \
    -artifact_prefix="artifacts/$target/" >"logs/$target.log" 2>&1 || true
  if [ -f fuzz-0.log ]; then
    # libFuzzer usually copies the child's log into its own output; keep it once.
    grep -q 'stat::number_of_executed_units' "logs/$target.log" || cat fuzz-0.log >>"logs/$target.log"
    rm fuzz-0.log
  fi
  grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::|==[0-9]+==|SUMMARY|Done|Test unit written)' \
    "logs/$target.log" || true
  grep -q 'stat::number_of_executed_units' "logs/$target.log" || {
    echo "run.sh: $target did not finish cleanly; see fuzz/logs/$target.log" >&2
    return 1
  }
}

case ${1:-} in
  install) cargo install cargo-fuzz --locked ;;
  list) printf '%s\n' "${targets[@]}" ;;
  build) cargo fuzz build -s "$sanitizer" ;;
  run) run_one "${2:?target}" "${3:-300}" ;;
  all) for t in "${targets[@]}"; do run_one "$t" "${2:-300}"; done ;;
  cmin) cargo fuzz cmin -s "$sanitizer" "${2:?target}" ;;
  check)
    for t in "${targets[@]}"; do
      mapfile -t dirs < <(corpus_args "$t")
      cargo fuzz run -s "$sanitizer" "$t" "${dirs[@]}" -- -runs=0
    done ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
