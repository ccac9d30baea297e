# perf/race/lib.sh — sourced by scripts/bench: how one server of the race is started,
# stopped and measured. Every function writes its figures to stdout as "key value"
# words and its logs under $work; nothing here decides what to run (scripts/bench does).
#
# Needs: $bin (the build directory), $work (a scratch directory), $server_cpu and
# $client_cpu (arrays: the taskset prefixes, empty on a 1-CPU machine), $here (perf/race).

hz=$(getconf CLK_TCK)
pid=
watch_pid=

# The command line of each server, by name. Echo servers take one thread; HTTP ones one
# worker; RESP ones what their name says.
server_cmd() {
  case $1 in
    pollux) echo "$bin/samples/echo_server/echo_server 0 1" ;;
    raw) echo "$bin/perf/race/epoll_echo 0 1" ;;
    asio) echo "$bin/samples/asio_echo/asio_echo 0 1" ;;
    asio-shared) echo "$bin/samples/asio_echo/asio_echo 0 1 --shared" ;;
    libevent) echo "$bin/perf/race/libevent_echo 0 1" ;;
    libuv) echo "$bin/perf/race/libuv_echo 0 1" ;;
    http-pollux) echo "$bin/samples/http_server/http_server --listen 127.0.0.1:0 --reactors 1" ;;
    beast) echo "$bin/perf/race/beast_http 0 1" ;;
    kv-2) echo "$bin/samples/kv_server/kv_server --listen 127.0.0.1:0 --reactors 2" ;;
    kv-1) echo "$bin/samples/kv_server/kv_server --listen 127.0.0.1:0 --reactors 1" ;;
    *) return 1 ;;
  esac
}

# A port no socket uses, below the kernel's ephemeral range so that no client connection
# takes it meanwhile (nginx and redis-server take no port 0).
free_port() {
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 50); do
    p=$((10000 + RANDOM % (low - 10000)))
    ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
  done
  return 1
}

# nginx_conf DIR PORT MASTER(on|off): one worker, no access log, `return 200`, all its
# files in DIR, run as the current user.
nginx_conf() {
  local dir=$1
  mkdir -p "$dir"
  {
    [ "$(id -u)" -eq 0 ] && echo "user root;"
    cat <<EOF
worker_processes 1;
daemon off;
master_process $3;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$2 reuseport;
    location / { default_type text/plain; return 200 "Hello, World!"; }
  }
}
EOF
  } >"$dir/nginx.conf"
}

# h2o_conf DIR PORT: h2o 2.2 (Debian's h2o package), one worker thread, no access log
# (h2o writes one only when `access-log` is set), all its files in DIR, run as the
# current user (as root h2o would drop to nobody, who cannot write DIR).
# The response: h2o 2.2 has no `return 200 "..."`. Of its two ways to answer /plaintext,
# the race takes `file.file` on a 13-byte file DIR/www/plaintext, with etags off and
# text/plain as its type: h2o's own C path, whose file cache keeps the fd open within an
# event-loop turn, so a request costs one pread (plus openat, fstat and close once per
# turn: 0.1 per request at h2load -c10). `curl -si` then differs from nginx's response
# by two headers, `last-modified` and `accept-ranges: bytes` (213 B of headers against
# nginx's 148; same status, body, Content-Type and Content-Length). The other way, an
# mruby handler returning a constant array (Debian builds h2o with mruby), gives nginx's
# headers exactly (145 B) but builds the Rack env for every request (and calls
# getsockname for it): 27,700 user instructions per request against 7,300 for this
# config and 9,000 for nginx (callgrind_ir, 2,000 h2load -c10 requests, 2026-12-03), so
# h2o's figures would be mruby's more than h2o's.
h2o_conf() {
  local dir=$1
  mkdir -p "$dir/www"
  printf 'Hello, World!' >"$dir/www/plaintext"
  {
    [ "$(id -u)" -eq 0 ] && echo "user: root"
    cat <<EOF
num-threads: 1
max-connections: 20000
listen:
  host: 127.0.0.1
  port: $2
error-log: $dir/error.log
pid-file: $dir/h2o.pid
file.etag: OFF
file.mime.setdefaulttype: text/plain
hosts:
  default:
    paths:
      /plaintext:
        file.file: $dir/www/plaintext
EOF
  } >"$dir/h2o.conf"
}

# start NAME [PREFIX...]: starts server NAME (pinned with $server_cpu unless PREFIX is
# given: a valgrind command, or `env` for no pinning); sets $pid (the process to stop), $watch_pid (the
# process that serves: nginx's worker; h2o serves from $pid itself) and $port.
start() {
  local name=$1; shift
  local prefix=("${server_cpu[@]}")
  [ $# -gt 0 ] && prefix=("$@")
  local log=$work/$name.server
  rm -f "$log"
  port=
  case $name in
    nginx*)
      port=$(free_port)
      local master=on
      [ "${1:-}" = valgrind ] && master=off  # under valgrind: one process
      nginx_conf "$work/nginx" "$port" "$master"
      "${prefix[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >"$log" 2>&1 &
      pid=$!
      ;;
    h2o)
      # -m worker (h2o's default, said here): one process, no master, in the foreground;
      # its worker thread serves and its main thread waits for signals, so $pid is the
      # process to watch.
      port=$(free_port)
      h2o_conf "$work/h2o" "$port"
      "${prefix[@]}" h2o -m worker -c "$work/h2o/h2o.conf" >"$log" 2>&1 &
      pid=$!
      ;;
    redis*)
      port=$(free_port)
      local extra=()
      [ "$name" = redis-io2 ] && extra=(--io-threads 2 --io-threads-do-reads yes)
      "${prefix[@]}" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --protected-mode no --maxclients 20000 "${extra[@]}" >"$log" 2>&1 &
      pid=$!
      ;;
    *)
      local cmd
      cmd=$(server_cmd "$name") || { echo "bench: no server named $name" >&2; return 1; }
      # shellcheck disable=SC2086
      "${prefix[@]}" $cmd >"$log" 2>&1 &
      pid=$!
      ;;
  esac
  watch_pid=$pid
  echo "$pid" >>"$work/pids"  # for scripts/bench's exit trap: start may run in a subshell
  # Up to 20 s, polling every 10 ms (a quick run starts some 30 servers), and trying the
  # port as soon as the log names it.
  for _ in $(seq 2000); do
    [ -n "$port" ] || port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log" 2>/dev/null || true)
    if [ -n "$port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || { echo "bench: $name exited at start:" >&2; cat "$log" "$work/nginx/error.log" "$work/h2o/error.log" >&2 2>/dev/null; pid=; return 1; }
    sleep 0.01
  done
  if [ -z "$port" ] || ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "bench: $name does not answer:" >&2; cat "$log" >&2; stop; return 1
  fi
  if [[ $name == nginx* ]] && [ "${1:-}" != valgrind ]; then
    watch_pid=$(pgrep -P "$pid" | head -n 1)
  fi
  return 0
}

# stop: SIGTERM (every server here, nginx included: its fast stop; the figures are taken
# by then), at most 10 s, then SIGKILL.
stop() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1000); do kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
  kill -KILL "$pid" 2>/dev/null && echo "bench: pid $pid did not stop within 10 s" >&2
  wait "$pid" 2>/dev/null
  pid= watch_pid=
  return 0
}

# cpu_ticks: utime + stime of $watch_pid (all its threads), in clock ticks. Fails when
# that process is gone or a zombie: a server that died in a run has no CPU figure.
cpu_ticks() {
  awk '{ sub(/^.*\) /, ""); if ($1 == "Z") exit 1; print $12 + $13 }' "/proc/$watch_pid/stat" 2>/dev/null
}
# died NAME: says that server NAME ended during a run, with its output; stops it.
died() {
  echo "bench: $1 exited during the run; its output:" >&2
  cat "$work/$1.server" >&2 2>/dev/null
  stop
}

# echo_run NAME CONNS SIZE SECONDS: one fresh server, one timed echo_load run. Prints
# "mps M cpu_us U" (messages/s, server CPU µs per message). A run in which not one
# message came back (the server not scheduled at all in a short run on a busy machine)
# is run once more, and says so on stderr; any other failure, or a second such run, fails.
echo_run() {
  local name=$1 conns=$2 size=$3 secs=$4 try
  local t0 t1 out=$work/load.out
  for try in 1 2; do
    start "$name" || return 1
    t0=$(cpu_ticks) || { died "$name"; return 1; }
    if timeout $((${secs%.*} + 60)) "${client_cpu[@]}" "$bin/samples/echo_load/echo_load" --port "$port" \
        --conns "$conns" --size "$size" --seconds "$secs" >"$out" 2>&1; then
      break
    fi
    if [ "$try" = 1 ] && grep -q '^no message came back$' "$out"; then
      echo "bench: $name: no message came back in ${secs} s; running again" >&2; stop; continue
    fi
    echo "bench: echo_load against $name failed:" >&2; cat "$out" >&2; stop; return 1
  done
  t1=$(cpu_ticks) || { died "$name"; return 1; }
  stop
  awk -v hz="$hz" -v t="$((t1 - t0))" '/^messages / { printf "mps %.0f cpu_us %.2f\n", $4, (t * 1e6 / hz) / $2 }' "$out"
}

# perf_count PID OUT CMD...: runs CMD while `perf stat` counts the syscalls of PID. perf
# starts with its counters off and turns them on through its control FIFO; CMD starts
# once perf has acknowledged, so nothing of CMD goes uncounted however long perf takes
# to start, and perf is stopped only once it has its SIGINT handler (an earlier SIGINT
# would be lost: a background job starts with SIGINT ignored, and perf would run on).
perf_count() {
  local p=$1 out=$2; shift 2
  local ctl=$work/perf.ctl ack=$work/perf.ack cfd afd reply= rc=0
  rm -f "$ctl" "$ack"; mkfifo "$ctl" "$ack"
  exec {cfd}<>"$ctl" {afd}<>"$ack"  # read-write: opening never blocks, even if perf fails
  perf stat -x, -e raw_syscalls:sys_enter -p "$p" -o "$out" -D -1 --control "fifo:$ctl,$ack" &
  local perf_pid=$!
  echo enable >&"$cfd"
  read -r -t 20 reply <&"$afd" || true
  if [ "$reply" != ack ]; then
    echo "bench: perf stat did not start counting within 20 s" >&2; rc=1
  elif ! "$@" >/dev/null 2>&1; then
    rc=1
  fi
  echo disable >&"$cfd"
  read -r -t 20 reply <&"$afd" || true
  kill -INT "$perf_pid" 2>/dev/null
  wait "$perf_pid" || true
  exec {cfd}>&- {afd}>&-
  [ "$rc" = 0 ] || return 1
  awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$out"
}

# echo_syscalls NAME CONNS M: syscalls per echoed 64 B message, from one server: perf
# counts its syscalls over M messages, then over 2M on the same connections count;
# (S(2M) - S(M)) / M cancels connection set-up and tear-down.
echo_syscalls() {
  local name=$1 conns=$2 m=$3 s1 s2
  start "$name" || return 1
  local load=("${client_cpu[@]}" "$bin/samples/echo_load/echo_load" --port "$port" --conns "$conns" --size 64 --timeout 120)
  s1=$(perf_count "$watch_pid" "$work/perf1" "${load[@]}" --messages "$m") &&
    s2=$(perf_count "$watch_pid" "$work/perf2" "${load[@]}" --messages $((2 * m))) ||
    { echo "bench: syscall count of $name failed" >&2; stop; return 1; }
  stop
  awk -v a="$s1" -v b="$s2" -v m="$m" 'BEGIN { printf "%.3f\n", (b - a) / m }'
}

# callgrind_ir NAME N CLIENT...: user-space instructions per request: NAME under
# callgrind, CLIENT (with PORT standing for the port) for N and then (fresh server) 2N
# requests, where N in CLIENT is written NREQ; (Ir(2N) - Ir(N)) / N.
callgrind_ir() {
  local name=$1 n=$2; shift 2
  local ir=() k
  for k in "$n" $((2 * n)); do
    local cg=$work/$name.$k.cg args=() a
    rm -f "$cg"*
    start "$name" valgrind --tool=callgrind --callgrind-out-file="$cg" || return 1
    for a in "$@"; do a=${a//PORT/$port}; args+=("${a//NREQ/$k}"); done
    timeout 600 "${args[@]}" >"$work/cg.client" 2>&1 || { echo "bench: $* failed under callgrind:" >&2; cat "$work/cg.client" >&2; stop; return 1; }
    stop
    ir+=("$(cat "$cg"* | sed -n 's/^totals: //p' | awk '{ s += $1 } END { print s }')")
  done
  awk -v a="${ir[0]}" -v b="${ir[1]}" -v n="$n" 'BEGIN { printf "%.0f\n", (b - a) / n }'
}

# idle_bytes NAME N: server resident memory per idle connection (echo_load --idle).
idle_bytes() {
  start "$1" || return 1
  local out
  out=$("$bin/samples/echo_load/echo_load" --port "$port" --idle "$2" --server-pid "$watch_pid" 2>&1) ||
    { echo "bench: idle run against $1 failed: $out" >&2; stop; return 1; }
  stop
  sed -n 's/.*, \([-0-9]*\) B per connection$/\1/p' <<<"$out"
}

# latency NAME CONNS RATE SECONDS: open-loop latency; prints "p50 p99 p99.9 max" in µs.
latency() {
  start "$1" || return 1
  local out=$work/lat.out
  if ! "${client_cpu[@]}" "$bin/samples/echo_load/echo_load" --port "$port" --conns "$2" --rate "$3" \
      --seconds "$4" --timeout 30 >"$out" 2>&1; then
    echo "bench: latency run against $1 failed:" >&2; cat "$out" >&2; stop; return 1
  fi
  stop
  awk '/^latency_us/ { print $3, $5, $7, $9 }' "$out"
}

# http_run NAME CLIENT SECONDS: one fresh server, one load run. CLIENT: wrk, wrk16
# (16 pipelined), h2load. Prints "rps R cpu_us U".
http_run() {
  local name=$1 client=$2 secs=$3 out=$work/http.out
  start "$name" || return 1
  local url=http://127.0.0.1:$port/plaintext t0 t1 cmd
  # wrk's -d and h2load's -D take whole seconds; a run under a second (--quick) is a 1 s
  # wrk ended by SIGINT after SECONDS (wrk then stops and reports, exit status 0), and
  # h2load -D in milliseconds.
  local wrk_d=$secs h2_d=$secs stop_early=()
  if [[ $secs == *.* ]]; then
    wrk_d=$(awk -v s="$secs" 'BEGIN { d = int(s); if (d < s) d++; print d }')
    stop_early=(timeout -s INT --preserve-status "$secs")
    h2_d=$(awk -v s="$secs" 'BEGIN { printf "%dms", s * 1000 }')
  fi
  case $client in
    wrk) cmd=("${stop_early[@]}" wrk -t1 -c100 -d"${wrk_d}s" "$url") ;;
    wrk16) cmd=("${stop_early[@]}" wrk -t1 -c100 -d"${wrk_d}s" -s "$here/../../samples/http_server/pipeline.lua" "$url" -- 16) ;;
    h2load) cmd=(h2load --h1 -t1 -c100 -m1 -D "$h2_d" "$url") ;;
  esac
  t0=$(cpu_ticks) || { died "$name"; return 1; }
  if ! timeout $((${secs%.*} + 60)) "${client_cpu[@]}" "${cmd[@]}" >"$out" 2>&1; then
    echo "bench: ${cmd[*]} against $name failed:" >&2; cat "$out" >&2; stop; return 1
  fi
  t1=$(cpu_ticks) || { died "$name"; return 1; }
  stop
  local reqs rps
  if [ "$client" = h2load ]; then
    reqs=$(sed -n 's/^requests: [0-9]* total, [0-9]* started, [0-9]* done, \([0-9]*\) succeeded.*/\1/p' "$out")
    rps=$(sed -n 's/^finished in [0-9.]*[a-z]*, \([0-9.]*\) req\/s.*/\1/p' "$out")
  else
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$out")
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' "$out")
    grep -q 'Non-2xx\|Socket errors' "$out" && { echo "bench: $name: errors in ${cmd[*]}:" >&2; cat "$out" >&2; return 1; }
  fi
  [ -n "$reqs" ] && [ "$reqs" -gt 0 ] || { echo "bench: $name: no requests in ${cmd[*]}:" >&2; cat "$out" >&2; return 1; }
  awk -v r="$rps" -v n="$reqs" -v hz="$hz" -v t="$((t1 - t0))" 'BEGIN { printf "rps %.0f cpu_us %.2f\n", r, (t * 1e6 / hz) / n }'
}

# http_syscalls NAME N: syscalls per request over h2load --h1 -c 100 (difference of N and 2N).
http_syscalls() {
  local name=$1 n=$2 s1 s2
  start "$name" || return 1
  local url=http://127.0.0.1:$port/plaintext
  s1=$(perf_count "$watch_pid" "$work/perf1" "${client_cpu[@]}" h2load --h1 -t1 -c100 -m1 -n "$n" "$url") &&
    s2=$(perf_count "$watch_pid" "$work/perf2" "${client_cpu[@]}" h2load --h1 -t1 -c100 -m1 -n $((2 * n)) "$url") ||
    { echo "bench: syscall count of $name failed" >&2; stop; return 1; }
  stop
  awk -v a="$s1" -v b="$s2" -v n="$n" 'BEGIN { printf "%.3f\n", (b - a) / n }'
}

# resp_run NAME PIPELINE N: redis-benchmark -t set,get -c 50 against a fresh server (not
# pinned: the 2-thread servers need both cores). Prints "set R get R cpu_us U".
resp_run() {
  local name=$1 p=$2 n=$3 out=$work/resp.out t0 t1
  start "$name" env || return 1
  t0=$(cpu_ticks) || { died "$name"; return 1; }
  if ! timeout 300 redis-benchmark -p "$port" -t set,get -c 50 -P "$p" -n "$n" --csv >"$out" 2>&1; then
    echo "bench: redis-benchmark against $name failed:" >&2; cat "$out" >&2; stop; return 1
  fi
  t1=$(cpu_ticks) || { died "$name"; return 1; }
  stop
  awk -F'"' -v hz="$hz" -v t="$((t1 - t0))" -v n="$n" '
    $2 == "SET" { s = $4 } $2 == "GET" { g = $4 }
    END { if (s == "" || g == "") exit 1; printf "set %.0f get %.0f cpu_us %.2f\n", s, g, (t * 1e6 / hz) / (2 * n) }' "$out" ||
    { echo "bench: no figures from redis-benchmark against $name:" >&2; cat "$out" >&2; return 1; }
}
