#!/usr/bin/env bash
# weft across hosts, simulated with network namespaces: 3 namespaces (a head
# and two workers, plus one holding the bridge that joins them) with their
# own addresses in a private /24. Runs examples/pi, examples/counter and a
# cross-node ref test (netns_refs) across them, checks `weft status`, then
# partitions a worker (its link set down), checks the head declares it dead
# and that, healed, it is fenced and rejoins as a new node, and runs pi again.
#
#   sudo tests/netns/run.sh build/release/bin/weft build/release/examples/pi/pi \
#        build/release/examples/counter/counter build/release/tests/netns_refs
#   (or: ctest --test-dir build/release -R netns --output-on-failure)
#
# Needs root and `ip netns` (iproute2); without them it prints one SKIP line
# and exits 77, which ctest reports as skipped. Everything it creates
# (namespaces, links, /etc/netns entries, processes) is removed on exit,
# failed or not. Traffic only ever goes to addresses inside its namespaces.
set -euo pipefail

skip() {
  echo "SKIP: netns tests need root and ip netns ($1)"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

(($# == 4)) || fail "usage: $0 WEFT_TOOL PI COUNTER NETNS_REFS"
weft_tool=$(realpath "$1") pi=$(realpath "$2") counter=$(realpath "$3") refs=$(realpath "$4")
for exe in "$weft_tool" "$pi" "$counter" "$refs"; do
  [[ -x $exe ]] || fail "$exe is not an executable (build it first)"
done

[[ $(id -u) == 0 ]] || skip "not running as root"
command -v ip >/dev/null || skip "ip not found: install iproute2"

prefix="weft-t$$-"         # namespaces: unique per run, so parallel runs do not collide
link="wt$$"                # interface names (at most 15 characters)
ns_br="${prefix}br" ns_h="${prefix}h" ns_a="${prefix}a" ns_b="${prefix}b"
work=$(mktemp -d /tmp/weft-netns-XXXXXX)
pids=()
created_ns=()
made_etc_netns=false
[[ -d /etc/netns ]] || made_etc_netns=true

cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${created_ns[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  if $made_etc_netns; then rmdir /etc/netns 2>/dev/null || true; fi
  if ((rc != 0 && rc != 77)); then
    for log in "$work"/*.log; do
      [[ -e $log ]] || continue
      echo "--- $(basename "$log")"
      tail -n 30 "$log"
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

add_ns() {
  ip netns add "$1" || return 1
  created_ns+=("$1")
  ip -n "$1" link set lo up
}
add_ns "$ns_br" 2>/dev/null || skip "cannot create a network namespace"

# A /24 no route of this host uses (the namespaces are isolated anyway).
subnet=
for x in $(seq 77 120); do
  if ! ip -4 route show | grep -q "^10\.77\.$x\."; then
    subnet="10.77.$x"
    break
  fi
done
[[ -n $subnet ]] || fail "no free 10.77.X.0/24 subnet"
addr_h="$subnet.2" addr_a="$subnet.3" addr_b="$subnet.4"

ip -n "$ns_br" link add br0 type bridge
ip -n "$ns_br" link set br0 up
i=0
for pair in "$ns_h:$addr_h" "$ns_a:$addr_a" "$ns_b:$addr_b"; do
  ns=${pair%%:*} addr=${pair#*:}
  add_ns "$ns"
  ip link add "${link}n$i" netns "$ns" type veth peer name "${link}s$i" netns "$ns_br"
  ip -n "$ns" link set "${link}n$i" name eth0
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns_br" link set "${link}s$i" master br0 up
  # The head by name, as a user would reach it (`ip netns exec` mounts this
  # over /etc/hosts).
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost\n%s weft-head\n' "$addr_h" >"/etc/netns/$ns/hosts"
  i=$((i + 1))
done
echo "netns: head $addr_h ($ns_h), workers $addr_a ($ns_a) and $addr_b ($ns_b)"

export WEFT_CLUSTER_TOKEN
WEFT_CLUSTER_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

# Polls `"$@"` every 0.1 s until it succeeds or `$2` seconds pass.
wait_for() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out waiting for $what"
    sleep 0.1
  done
}

# Runs `"$@"` in namespace $1 in the background, its output in $work/$2.log.
start_in() {
  local ns=$1 name=$2
  shift 2
  ip netns exec "$ns" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}

status() { # status PORT: `weft status` from the head's namespace
  ip netns exec "$ns_h" "$weft_tool" status --address "weft-head:$1" 2>&1
}
alive_at() { # alive_at PORT ADDR: a node reached at ADDR is alive
  status "$1" | grep -Eq "^[0-9a-f]+ +$2:[0-9]+ +[0-9]+ +alive "
}
dead_at() {
  status "$1" | grep -Eq "^[0-9a-f]+ +$2:[0-9]+ +[0-9]+ +dead "
}
alive_count() { status "$1" | sed -n 's/^cluster: \([0-9]*\) nodes\{0,1\} alive.*/\1/p'; }
three_alive() { [[ $(alive_count "$1") == 3 ]]; }
node_at() { # node_at PORT ADDR STATE: the id of the node at ADDR in STATE
  status "$1" | awk -v a="$2" -v s="$3" '$2 ~ "^"a":" && $4 == s { print $1 }'
}

head_up() { status "$1" >/dev/null; }

# start_cluster PROGRAM PORT: head in $ns_h bound to its address, a worker
# in each other namespace joining it by address or by name.
start_cluster() {
  local program=$1 port=$2 name
  name=$(basename "$program")
  start_in "$ns_h" "$name-head" "$program" --head --bind "$addr_h" --port "$port" --threads 2 \
    --object-store-memory 256M
  wait_for "the $name head" 20 head_up "$port"
  start_in "$ns_a" "$name-worker-a" "$program" --worker --address "$addr_h:$port" \
    --bind "$addr_a" --threads 2 --object-store-memory 256M
  # This one joins by name and listens on every address, so it advertises
  # the address of its interface that routes to the head.
  start_in "$ns_b" "$name-worker-b" "$program" --worker --address "weft-head:$port" \
    --bind 0.0.0.0 --threads 2 --object-store-memory 256M
  wait_for "3 alive nodes in the $name cluster" 30 three_alive "$port"
}

stop_cluster() {
  ip netns exec "$ns_h" "$weft_tool" stop --address "$addr_h:$1" >/dev/null
}

# --- pi: a driver in worker b's namespace ---------------------------------------------
# (Not in a's: a driver is a node too, listed until its heartbeats stop.)
start_cluster "$pi" 6380
out=$(status 6380)
echo "$out"
for addr in "$addr_h" "$addr_a" "$addr_b"; do
  grep -Eq "^[0-9a-f]+ +$addr:[0-9]+ +[0-9]+ +alive " <<<"$out" || fail "status lacks $addr"
done
run_pi() {
  ip netns exec "$ns_b" timeout 60 "$pi" --address "$addr_h:6380" --bind "$addr_b" --threads 1 \
    --object-store-memory 64M >"$work/pi-driver.log" 2>&1 || fail "pi driver failed"
  grep -E "^pi ~= 3\.1[0-9]+ from 64 tasks" "$work/pi-driver.log" || fail "pi printed no result"
}
run_pi

# --- partition worker a, heal it: it is fenced and rejoins as a new node ------------
old_id=$(node_at 6380 "$addr_a" alive)
[[ -n $old_id ]] || fail "no alive node at $addr_a"
ip -n "$ns_a" link set eth0 down
echo "netns: partitioned $addr_a (node $old_id)"
wait_for "the head to declare node $old_id dead" 15 dead_at 6380 "$addr_a"
ip -n "$ns_a" link set eth0 up
echo "netns: healed $addr_a"
new_alive() {
  local id
  id=$(node_at 6380 "$addr_a" alive)
  [[ -n $id && $id != "$old_id" ]] && three_alive 6380
}
wait_for "a new node at $addr_a" 30 new_alive
new_id=$(node_at 6380 "$addr_a" alive)
grep -q "rejoining as new node $new_id" "$work/pi-worker-a.log" ||
  fail "worker a did not log that it rejoined as node $new_id"
[[ $(node_at 6380 "$addr_a" dead) == "$old_id" ]] || fail "old node $old_id is not listed dead"
echo "netns: node $old_id was fenced; worker a is node $new_id now"
run_pi
stop_cluster 6380

# --- counter: actors across nodes, a driver joining by host name -----------------------
start_cluster "$counter" 6381
ip netns exec "$ns_b" timeout 60 "$counter" --address "weft-head:6381" --bind "$addr_b" \
  --threads 1 --object-store-memory 64M >"$work/counter-driver.log" 2>&1 || fail "counter failed"
grep -E "^counter 'c' = 15050 " "$work/counter-driver.log" || fail "counter printed no result"
stop_cluster 6381

# --- a ref made on one worker, consumed on the other ----------------------------------
start_cluster "$refs" 6382
ip netns exec "$ns_h" env WEFT_NETNS_WORKERS="$addr_a,$addr_b" timeout 60 "$refs" \
  --address "$addr_h:6382" --bind "$addr_h" >"$work/refs-driver.log" 2>&1 || fail "netns_refs failed"
grep -E "^netns refs: ok" "$work/refs-driver.log" || fail "netns_refs printed no result"
stop_cluster 6382

echo "netns: all passed"
