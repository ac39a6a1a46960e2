#!/bin/sh
# Benchmarks of the gateway on this machine, with Debian's wrk as the load
# generator: authenticated property GET and TD GET against a bare net/http
# handler returning the same JSON (the ceiling), at 1 and 4 connections;
# then WebSocket fan-out and RSS with gwbench fanout.
#
#   apt-get install -y wrk && sh gateway/internal/gwbench/run.sh
set -eu
cd "$(dirname "$0")/../../.."
D=${D:-10s}
go build -o /tmp/gwbench ./gateway/internal/gwbench
/tmp/gwbench serve -addr 127.0.0.1:18080 -bare 127.0.0.1:18081 -things 100 &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
sleep 2
AUTH="Authorization: Bearer bench-token"
PROP=/things/urn:bench:000/properties/brightness
TD=/things/urn:bench:000
for c in 1 4; do
  echo "== $c connection(s), wrk -t1 -c$c -d$D --latency"
  echo "-- bare net/http handler"
  wrk -t1 -c$c -d$D --latency http://127.0.0.1:18081$PROP | grep -E 'Requests/sec|99%|50%'
  echo "-- gateway: authenticated property GET"
  wrk -t1 -c$c -d$D --latency -H "$AUTH" http://127.0.0.1:18080$PROP | grep -E 'Requests/sec|99%|50%|Non-2xx'
  echo "-- gateway: authenticated TD GET"
  wrk -t1 -c$c -d$D --latency -H "$AUTH" http://127.0.0.1:18080$TD | grep -E 'Requests/sec|99%|50%|Non-2xx'
done
echo "== fan-out"
/tmp/gwbench fanout -url http://127.0.0.1:18080 -clients 1000 -changes 200 -sustain 10s -pid $PID
