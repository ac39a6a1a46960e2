#!/bin/sh
# Benchmarks of the gateway on this machine, with Debian's wrk as the load
# generator: authenticated property GET and TD GET against a bare net/http
# handler returning the same JSON (the ceiling), at 1 and 4 connections,
# interleaved REPS times so each ratio compares runs made side by side;
# then WebSocket fan-out to 1,000 subscribers and RSS with gwbench fanout.
#
#   apt-get install -y wrk && sh gateway/internal/gwbench/run.sh
#   D=10s REPS=3 sh gateway/internal/gwbench/run.sh
#
# With WEBTHING_PYTHON set to a checkout of WebThingsIO/webthing-python
# (apt-get install python3-tornado python3-zeroconf python3-ifaddr
# python3-jsonschema python3-pyee; PYTHON names that python3 if it is not
# the first on PATH), its single-thing example ("My Lamp", no
# authentication) runs beside examples/webthing-lamp (the same lamp on
# Hearth, no authentication either) and the authenticated gateway, same
# wrk settings, interleaved. The peer is started from a wrapper that binds
# it to 127.0.0.1 and skips its mDNS advertisement; its code is not changed.
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
if [ -n "${WEBTHING_PYTHON:-}" ]; then
  go build -o /tmp/webthing-lamp ./examples/webthing-lamp
  /tmp/webthing-lamp -addr 127.0.0.1:18088 >/dev/null 2>&1 &
  LAMP=$!
  (cd "$WEBTHING_PYTHON" && PYTHONPATH=. exec "${PYTHON:-python3}" -c '
import runpy, tornado.ioloop, webthing
def start(self):  # loopback only, no mDNS
    self.server.listen(self.port, address="127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
webthing.WebThingServer.start = start
init = webthing.WebThingServer.__init__
webthing.WebThingServer.__init__ = lambda self, things, port=80, **kw: init(self, things, port=18888, **kw)
runpy.run_path("example/single-thing.py", run_name="__main__")
') >/dev/null 2>&1 &
  PY=$!
  trap 'kill $PID $LAMP $PY 2>/dev/null' EXIT
  sleep 3
  echo "== webthing-python beside Hearth: GET /properties/brightness (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  for i in $(seq "$REPS"); do
    for c in 1 4; do
      w python "$c" "http://127.0.0.1:18888/properties/brightness"
      w lamp "$c" "http://127.0.0.1:18088/properties/brightness"
      w property "$c" "http://127.0.0.1:18080$PROP" "$AUTH"
    done
  done
  kill $LAMP $PY 2>/dev/null || true
fi
echo "== fan-out (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
/tmp/gwbench fanout -url http://127.0.0.1:18080 -clients 1000 -changes 200 -sustain "$D" -pid $PID
