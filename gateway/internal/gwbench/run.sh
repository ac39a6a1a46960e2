#!/bin/sh
# Benchmarks of the gateway on this machine, with Debian's wrk as the load
# generator: authenticated property GET and TD GET against a bare net/http
# handler returning the same JSON (the ceiling), at 1 and 4 connections,
# interleaved REPS times so each ratio compares runs made side by side;
# then WebSocket fan-out to 1,000 subscribers and RSS with gwbench fanout.
#
#   apt-get install -y wrk && sh gateway/internal/gwbench/run.sh
#   D=10s REPS=3 sh gateway/internal/gwbench/run.sh
set -eu
cd "$(dirname "$0")/../../.."
D=${D:-10s}
REPS=${REPS:-3}
go build -o /tmp/gwbench ./gateway/internal/gwbench
/tmp/gwbench serve -addr 127.0.0.1:18080 -bare 127.0.0.1:18081 -things 100 >/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
sleep 2
AUTH="Authorization: Bearer bench-token"
PROP=/things/urn:bench:000/properties/brightness
TD=/things/urn:bench:000
w() { # name conns url [header]
  if [ $# -ge 4 ]; then out=$(wrk -t1 -c$2 -d$D --latency -H "$4" "$3"); else out=$(wrk -t1 -c$2 -d$D --latency "$3"); fi
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '%-10s c=%s  %10s req/s  p99 %-9s %s\n' "$1" "$2" "$rps" "$p99" "${bad:+NON-2XX $bad}"
}
echo "wrk -t1 -cN -d$D --latency; $REPS interleaved repetitions; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$REPS"); do
  for c in 1 4; do
    w bare "$c" "http://127.0.0.1:18081$PROP"
    w property "$c" "http://127.0.0.1:18080$PROP" "$AUTH"
    w td "$c" "http://127.0.0.1:18080$TD" "$AUTH"
  done
done
echo "== fan-out (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
/tmp/gwbench fanout -url http://127.0.0.1:18080 -clients 1000 -changes 200 -sustain "$D" -pid $PID
