#!/usr/bin/env bash
# compare.sh: measures two git revisions of weft on this machine in one run,
# with bench/microbench and bench/cluster_bench, and says per metric whether
# NEW is better, worse or the same (within +-5%) as BASE.
#
#   bench/compare.sh [--rounds N] [--quick] [--filter SUBSTR] BASE_REV [NEW_REV]
#
#   bench/compare.sh 4772a9e                    # BASE vs HEAD, 3 rounds (~7 min on 2 cores)
#   bench/compare.sh --rounds 5 v0.1 main
#   bench/compare.sh --quick --filter actor 4772a9e d8adafc
#
# For each revision it checks out a detached worktree at
# build/compare/src-<shortrev> (reused when there) and builds only the two
# bench targets with the `release` preset into build/compare/build-<shortrev>
# (nice -n 19, -j2; ccache makes rebuilds cheap). It never touches the main
# checkout's working tree, index or build/release. Then it runs, for round
# 1..N: base microbench, new microbench, base cluster_bench, new cluster_bench,
# so that drift in the machine hits both sides alike. --quick and --filter are
# passed to a program only where both revisions' sources accept them.
#
# Output (stdout): one JSON line per (bench, metric) both sides report,
#   {"bench":..,"metric":..,"unit":..,"base":..,"new":..,"ratio":..,
#    "better":"higher|lower","verdict":"same|better|worse",
#    "base_rounds":[..],"new_rounds":[..]}
# where base/new are medians over the rounds and ratio is new/base, then an
# aligned table and notes (metrics only one side reports, noisy metrics,
# failed runs). Progress goes to stderr. Every raw run's output is kept under
# build/compare/runs/. Exits 0 whatever the verdicts (a measurement, not a
# test); non-zero only on usage or build errors.
set -euo pipefail

usage() {
  echo "usage: bench/compare.sh [--rounds N] [--quick] [--filter SUBSTR] BASE_REV [NEW_REV]" >&2
  echo "  --rounds N       rounds of alternating runs (default 3)" >&2
  echo "  --quick          pass --quick to the bench programs (tiny slices, smoke only)" >&2
  echo "  --filter SUBSTR  pass --filter SUBSTR: only metrics whose name contains SUBSTR" >&2
  echo "  NEW_REV          defaults to HEAD" >&2
  exit "$1"
}

log() { printf 'compare: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

rounds=3
quick=0
filter=""
have_filter=0
positional=()
while (($# > 0)); do
  case "$1" in
    --rounds)
      (($# >= 2)) || usage 2
      rounds="$2"
      shift 2
      ;;
    --rounds=*)
      rounds="${1#--rounds=}"
      shift
      ;;
    --quick)
      quick=1
      shift
      ;;
    --filter)
      (($# >= 2)) || usage 2
      filter="$2"
      have_filter=1
      shift 2
      ;;
    --filter=*)
      filter="${1#--filter=}"
      have_filter=1
      shift
      ;;
    -h | --help) usage 0 ;;
    --)
      shift
      positional+=("$@")
      break
      ;;
    -*)
      log "unknown option: $1"
      usage 2
      ;;
    *)
      positional+=("$1")
      shift
      ;;
  esac
done
((${#positional[@]} >= 1 && ${#positional[@]} <= 2)) || usage 2
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer, not '$rounds'"
base_rev_arg="${positional[0]}"
new_rev_arg="${positional[1]:-HEAD}"

command -v python3 >/dev/null || die "python3 is needed for the summary"
command -v timeout >/dev/null || die "timeout (coreutils) is needed"

# The main checkout: the parent of the common .git, so that running this from a
# worktree still puts everything in one place.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
git_common="$(git -C "$here" rev-parse --path-format=absolute --git-common-dir)"
root="$(cd "$git_common/.." && pwd)"
compare_dir="$root/build/compare"
git -C "$root" check-ignore -q "$compare_dir/x" ||
  die "$compare_dir is not git-ignored; refusing to put worktrees there"

resolve() {
  git -C "$root" rev-parse --verify --quiet "$1^{commit}" || die "not a commit: $1"
}
base_sha="$(resolve "$base_rev_arg")"
new_sha="$(resolve "$new_rev_arg")"
base_short="$(git -C "$root" rev-parse --short=7 "$base_sha")"
new_short="$(git -C "$root" rev-parse --short=7 "$new_sha")"
[[ "$base_sha" != "$new_sha" ]] || log "warning: BASE and NEW are the same commit ($base_short)"

programs=(microbench cluster_bench)
bench_timeout=600  # seconds per program run
build_timeout=3600 # seconds per configure or build

# True when both revisions' bench/<prog>.cpp mention the flag as a literal.
rev_has_flag() {  # rev prog flag
  git -C "$root" show "$1:bench/$2.cpp" 2>/dev/null | grep -qF "\"$3\""
}
both_have_flag() {  # prog flag
  rev_has_flag "$base_sha" "$1" "$2" && rev_has_flag "$new_sha" "$1" "$2"
}

# Which programs both sides have, and the flags each gets.
declare -A prog_args
active=()
for prog in "${programs[@]}"; do
  if ! git -C "$root" cat-file -e "$base_sha:bench/$prog.cpp" 2>/dev/null ||
    ! git -C "$root" cat-file -e "$new_sha:bench/$prog.cpp" 2>/dev/null; then
    log "warning: bench/$prog.cpp is missing at one revision; skipping $prog"
    continue
  fi
  args=()
  if ((quick)); then
    if both_have_flag "$prog" --quick; then
      args+=(--quick)
    else
      log "warning: $prog does not take --quick at both revisions; running it in full"
    fi
  fi
  if ((have_filter)); then
    if both_have_flag "$prog" --filter; then
      args+=(--filter "$filter")
    else
      log "warning: $prog does not take --filter at both revisions; running every metric"
    fi
  fi
  prog_args[$prog]="${args[*]@Q}"
  active+=("$prog")
done
((${#active[@]} > 0)) || die "no bench program exists at both revisions"

# Worktree and build for one revision; prints the binary dir.
prepare() {  # sha short
  local sha="$1" short="$2"
  local src="$compare_dir/src-$short" bin="$compare_dir/build-$short"
  mkdir -p "$compare_dir"
  if [[ -e "$src" ]]; then
    local at
    at="$(git -C "$src" rev-parse HEAD 2>/dev/null)" || die "$src exists but is not a git worktree"
    [[ "$at" == "$sha" ]] || die "$src is at $at, not $sha; remove it (git worktree remove $src)"
    log "reusing worktree $src"
  else
    log "adding worktree $src at $short"
    git -C "$root" worktree add --detach "$src" "$sha" >&2
  fi
  if [[ ! -f "$bin/CMakeCache.txt" ]]; then
    log "configuring $short (release preset) in $bin"
    timeout "$build_timeout" nice -n 19 cmake -S "$src" --preset release -B "$bin" >&2 ||
      die "configure of $short failed"
  fi
  log "building ${active[*]} for $short"
  timeout "$build_timeout" nice -n 19 cmake --build "$bin" -j2 --target "${active[@]}" >&2 ||
    die "build of $short failed"
  for prog in "${active[@]}"; do
    [[ -x "$bin/bench/$prog" ]] || die "$bin/bench/$prog was not built"
  done
  printf '%s\n' "$bin"
}

t_start=$SECONDS
base_bin="$(prepare "$base_sha" "$base_short")"
new_bin="$(prepare "$new_sha" "$new_short")"
t_built=$SECONDS

run_dir="$compare_dir/runs/$base_short-$new_short-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"
jsonl="$run_dir/results.jsonl" # side<TAB>round<TAB>json line
failures="$run_dir/failures.txt"
: >"$jsonl"
: >"$failures"
log "runs go to $run_dir"

run_one() {  # side bin prog round
  local side="$1" bin="$2" prog="$3" round="$4"
  local out="$run_dir/$side-$prog-$round.log"
  local -a args
  eval "args=(${prog_args[$prog]})"
  log "round $round/$rounds: $side ($([[ $side == base ]] && echo "$base_short" || echo "$new_short")) $prog ${args[*]}"
  local rc=0 t0=$SECONDS
  timeout -k 10 "$bench_timeout" "$bin/bench/$prog" "${args[@]}" >"$out" 2>&1 || rc=$?
  log "  ${prog} took $((SECONDS - t0)) s, rc $rc"
  if ((rc == 2)) && grep -q 'no metric matches --filter' "$out"; then
    no_match[$prog]=1  # the filter names none of this program's metrics
    return
  fi
  if ((rc != 0)); then
    printf '%s %s round %s: exit %s (log %s)\n' "$side" "$prog" "$round" "$rc" "$out" >>"$failures"
  fi
  # Keep whatever JSON lines it printed, even from a run that failed late.
  grep '^{"bench":' "$out" | while IFS= read -r line; do
    printf '%s\t%s\t%s\n' "$side" "$round" "$line"
  done >>"$jsonl" || true
}

declare -A no_match
for ((round = 1; round <= rounds; ++round)); do
  for prog in "${active[@]}"; do
    [[ -n "${no_match[$prog]:-}" ]] && continue
    run_one base "$base_bin" "$prog" "$round"
    run_one new "$new_bin" "$prog" "$round"
  done
done
for prog in "${!no_match[@]}"; do
  log "$prog has no metric matching --filter '$filter'; not measured"
done
t_end=$SECONDS

log "built in $((t_built - t_start)) s, measured in $((t_end - t_built)) s"

python3 - "$jsonl" "$failures" "$base_short" "$new_short" "$rounds" <<'PY'
import json
import statistics
import sys

jsonl, failures_path, base_short, new_short, rounds = sys.argv[1:6]
rounds = int(rounds)

# (bench, metric) -> {"unit": .., "base": [..], "new": [..]}, in first-seen order.
data = {}
bad_lines = 0
with open(jsonl) as f:
    for raw in f:
        side, rnd, line = raw.rstrip("\n").split("\t", 2)
        try:
            rec = json.loads(line)
            key = (rec["bench"], rec["metric"])
            value = float(rec["value"])
            unit = rec.get("unit", "")
        except (ValueError, KeyError):
            bad_lines += 1
            continue
        entry = data.setdefault(key, {"unit": {}, "base": [], "new": []})
        entry["unit"][side] = unit
        entry[side].append(value)

HIGHER_SUFFIXES = ("/s",)  # tasks/s, calls/s, puts/s, gets/s, waits/s, groups/s, GB/s, ops/s
LOWER_UNITS = {"s", "ms", "us", "\u00b5s", "ns", "ps", "cycles"}


def direction(unit):
    if unit.endswith(HIGHER_SUFFIXES):
        return "higher"
    if unit in LOWER_UNITS:
        return "lower"
    return "unknown"


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v:,.0f}"
    if a >= 1000:
        return f"{v:,.1f}"
    if a >= 1:
        return f"{v:.3f}"
    return f"{v:.4g}"


def spread(values):
    m = statistics.median(values)
    if len(values) < 2 or m == 0:
        return 0.0
    return (max(values) - min(values)) / abs(m)


rows = []
only = []
notes = []
for (bench, metric), e in data.items():
    if not e["base"] or not e["new"]:
        side = "base" if e["base"] else "new"
        only.append((bench, metric, e["unit"].get(side, ""), side))
        continue
    unit_b, unit_n = e["unit"]["base"], e["unit"]["new"]
    unit = unit_n
    if unit_b != unit_n:
        notes.append(f"{bench} {metric}: unit changed {unit_b} -> {unit_n}; not compared")
        continue
    better = direction(unit)
    base = statistics.median(e["base"])
    new = statistics.median(e["new"])
    ratio = new / base if base != 0 else None
    if ratio is None:
        verdict = "same" if new == 0 else "n/a"
    elif 0.95 <= ratio <= 1.05:
        verdict = "same"
    elif better == "unknown":
        verdict = "differs"
    elif (ratio > 1) == (better == "higher"):
        verdict = "better"
    else:
        verdict = "worse"
    if better == "unknown":
        notes.append(f"{bench} {metric}: unknown unit '{unit}', cannot say which way is better")
    if len(e["base"]) != rounds or len(e["new"]) != rounds:
        notes.append(f"{bench} {metric}: {len(e['base'])} base and {len(e['new'])} new values "
                     f"for {rounds} rounds (a run failed or repeated the metric)")
    sb, sn = spread(e["base"]), spread(e["new"])
    rows.append(dict(bench=bench, metric=metric, unit=unit, base=base, new=new, ratio=ratio,
                     better=better, verdict=verdict, base_rounds=e["base"],
                     new_rounds=e["new"], sb=sb, sn=sn))
    out = {k: rows[-1][k] for k in ("bench", "metric", "unit", "base", "new")}
    out["ratio"] = round(ratio, 4) if ratio is not None else None
    out["better"] = better
    out["verdict"] = verdict
    out["base_rounds"] = e["base"]
    out["new_rounds"] = e["new"]
    print(json.dumps(out, separators=(",", ":")))

print()
print(f"base {base_short} vs new {new_short}: median of {rounds} round(s); ratio = new/base; "
      "same = within +-5%; spread = (max-min)/median over rounds")
head = ("bench", "metric", "unit", "base", "new", "ratio", "better", "verdict",
        "spread b/n")
table = [head]
for r in rows:
    table.append((r["bench"], r["metric"], r["unit"], fmt(r["base"]), fmt(r["new"]),
                  f"{r['ratio']:.3f}" if r["ratio"] is not None else "-", r["better"],
                  r["verdict"], f"{100 * r['sb']:.0f}%/{100 * r['sn']:.0f}%"))
widths = [max(len(row[i]) for row in table) for i in range(len(head))]
right = {3, 4, 5, 8}
for n, row in enumerate(table):
    cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
    print("  ".join(cells).rstrip())
    if n == 0:
        print("  ".join("-" * w for w in widths))

counts = {}
for r in rows:
    counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
print()
print("verdicts: " + ", ".join(f"{v} {counts[v]}" for v in sorted(counts)))
for bench, metric, unit, side in only:
    print(f"note: only {side} reports {bench} {metric} ({unit})")
for r in rows:
    if max(r["sb"], r["sn"]) > 0.10:
        print(f"note: noisy {r['bench']} {r['metric']}: spread base {100 * r['sb']:.0f}%, "
              f"new {100 * r['sn']:.0f}%")
for r in rows:
    if r["verdict"] == "worse":
        print(f"note: worse {r['bench']} {r['metric']} ({r['unit']}): "
              f"base {[fmt(v) for v in r['base_rounds']]} new {[fmt(v) for v in r['new_rounds']]}")
for n in notes:
    print(f"note: {n}")
if bad_lines:
    print(f"note: {bad_lines} unreadable JSON line(s) skipped")
with open(failures_path) as f:
    for line in f:
        print(f"note: run failed: {line.rstrip()}")
PY
echo
echo "raw runs: $run_dir"
exit 0
