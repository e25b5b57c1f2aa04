#!/usr/bin/env bash
# `make bench-cluster`: one generated Thai survey (PERSONS persons, 80 bootstrap replicate
# weights) split over 16 Parquet files; `migstat estimate` with the embedded engine, then through
# a local Ballista cluster of 1 and 2 executors (and 4, 8 where the machine has the cores).
# Prints wall seconds and peak memory of the client, and the executors' shuffle bytes.
# Usage: benches/cluster.sh MIGSTAT PERSONS [PARTS]
set -euo pipefail
bin=$(realpath "$1")
persons=${2:-20000000}
parts=${3:-16}
work=${BENCH_DIR:-$(mktemp -d /tmp/migstat-bench-cluster.XXXX)}
mkdir -p "$work"
data="$work/data/tha_lfs_synth_persons"
if [ ! -d "$data" ]; then
  echo "generating $persons persons in $parts Parquet files under $work/data"
  /usr/bin/time -f "synth: %e s, %M KB" "$bin" synth --country THA --persons "$persons" \
    --replicates 80 --format parquet --parts "$parts" --out "$work/data" >/dev/null
fi
du -sh "$data"
flags=(--weight WEIGHT --replicates 'REPWT*' --method bootstrap --by SEX
       --mean AGE --total REMIT --mean BIRTH_CTRY --format csv)
measure() { # label, then the command
  local label=$1; shift
  /usr/bin/time -f "$label: %e s wall, %U s user, %M KB peak (client)" "$@" >"$work/$label.csv"
}
measure embedded "$bin" estimate "$data" "${flags[@]}"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cores=$(nproc)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for n in 1 2 4 8; do
  if [ "$n" -gt 2 ] && [ "$n" -gt "$cores" ]; then break; fi
  sp=$(port)
  "$bin" cluster scheduler --bind "127.0.0.1:$sp" 2>"$work/scheduler-$n.log" & pids+=($!)
  sleep 2
  slots=$(( cores / n > 0 ? cores / n : 1 ))
  for i in $(seq 1 "$n"); do
    ep=$(port)
    "$bin" cluster executor --scheduler "127.0.0.1:$sp" --bind "127.0.0.1:$ep" --grpc-port "$(port)" \
      --work-dir "$work/exec-$n-$i" --slots "$slots" 2>"$work/executor-$n-$i.log" & pids+=($!)
  done
  for i in $(seq 1 "$n"); do
    until grep -q "registration succeed" "$work/executor-$n-$i.log" 2>/dev/null; do sleep 0.5; done
  done
  measure "cluster-$n" "$bin" estimate "$data" "${flags[@]}" --engine "ballista://127.0.0.1:$sp"
  cmp -s "$work/embedded.csv" "$work/cluster-$n.csv" && echo "cluster-$n: same bytes as embedded" \
    || { echo "cluster-$n: DIFFERS from embedded"; exit 1; }
  echo "cluster-$n: shuffle files $(du -sb "$work"/exec-$n-* | awk '{s+=$1} END {print s}') bytes"
  cleanup; pids=()
  sleep 1
done
