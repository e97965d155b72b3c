#!/usr/bin/env bash
# Starts N tern replicas on this host and HAProxy in front of them
# (deploy/haproxy/tern.cfg.template); Ctrl-C or SIGTERM drains the replicas and stops
# everything. docs/deploy.md explains the setup.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

usage() {
  cat <<'EOF'
Usage: scripts/replicas.sh [options] [-- tern serve args...]
       scripts/replicas.sh --print-config --servers HOST:PORT[,HOST:PORT...] [options]

Starts N `tern serve` replicas on 127.0.0.1 (ports PORT+1 ... PORT+N) and HAProxy on
HOST:PORT in front of them, with prefix affinity, health checks and retries
(docs/deploy.md). Arguments after `--` go to every `tern serve` (e.g. --model DIR).
With GPUs, each replica gets its own: CUDA_VISIBLE_DEVICES round-robin over the GPUs
(those of CUDA_VISIBLE_DEVICES when set, none when it is empty, else all that nvidia-smi
lists), as many per replica as a passed --tensor-parallel-size asks. Ctrl-C (or SIGTERM) drains the replicas
(`tern serve` finishes its requests, up to its --shutdown-timeout), then stops HAProxy.

Options:
  -n, --replicas N        replicas to start (default: one per GPU group, else 2)
  --host ADDR             address HAProxy listens on (default 127.0.0.1)
  --port PORT             port HAProxy listens on (default 8000)
  --replica-port PORT     first replica's port (default PORT+1)
  --affinity-bytes B      leading request-body bytes that make the affinity key (default 256)
  --check-interval T      health-check interval, HAProxy time syntax (default 2s)
  --log-dir DIR           where replica-I.log and haproxy.log go (default: a new temp dir)
  --tern PATH             the tern binary (default build/src/app/tern)
  --haproxy PATH          the haproxy binary (default: haproxy on PATH)
  --print-config          print the filled-in HAProxy configuration for --servers and exit
  --servers LIST          with --print-config: the replicas, HOST:PORT comma-separated
  -h, --help              this text
EOF
}

replicas="" lb_host=127.0.0.1 lb_port=8000 replica_port="" affinity_bytes=256 check_interval=2s
log_dir="" tern="$root/build/src/app/tern" haproxy=haproxy print_config=0 servers=""
die() { echo "replicas.sh: $*" >&2; exit 2; }
need_value() { [ "$#" -ge 2 ] || die "$1 needs a value (--help)"; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    -n|--replicas) need_value "$@"; replicas=$2; shift 2 ;;
    --host) need_value "$@"; lb_host=$2; shift 2 ;;
    --port) need_value "$@"; lb_port=$2; shift 2 ;;
    --replica-port) need_value "$@"; replica_port=$2; shift 2 ;;
    --affinity-bytes) need_value "$@"; affinity_bytes=$2; shift 2 ;;
    --check-interval) need_value "$@"; check_interval=$2; shift 2 ;;
    --log-dir) need_value "$@"; log_dir=$2; shift 2 ;;
    --tern) need_value "$@"; tern=$2; shift 2 ;;
    --haproxy) need_value "$@"; haproxy=$2; shift 2 ;;
    --print-config) print_config=1; shift ;;
    --servers) need_value "$@"; servers=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (tern serve arguments go after --; see --help)" ;;
  esac
done
serve_args=("$@")

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_uint "$lb_port" && [ "$lb_port" -ge 1 ] && [ "$lb_port" -le 65535 ] || die "--port must be 1..65535, got '$lb_port'"
is_uint "$affinity_bytes" && [ "$affinity_bytes" -ge 1 ] || die "--affinity-bytes must be a positive integer, got '$affinity_bytes'"
[[ "$check_interval" =~ ^[0-9]+(us|ms|s|m)?$ ]] || die "--check-interval must be an HAProxy time such as 2s or 500ms, got '$check_interval'"
[ -n "$replicas" ] && { is_uint "$replicas" && [ "$replicas" -ge 1 ] || die "--replicas must be at least 1, got '$replicas'"; }
[ -n "$replica_port" ] && { is_uint "$replica_port" || die "--replica-port must be a port number, got '$replica_port'"; }
template="$root/deploy/haproxy/tern.cfg.template"

# Prints the template filled in for the servers given as HOST:PORT arguments.
render_config() {
  local bind=$1; shift
  local lines="" tracking="" i=0 server
  for server in "$@"; do
    i=$((i + 1))
    lines+="    server r$i $server"$'\n'
    tracking+="    server r$i $server track tern_affinity/r$i"$'\n'
  done
  local text
  text="$(<"$template")"
  text="${text//@BIND@/$bind}"
  text="${text//@AFFINITY_BYTES@/$affinity_bytes}"
  text="${text//@CHECK_INTERVAL@/$check_interval}"
  text="${text//@SERVERS@/${lines%$'\n'}}"
  text="${text//@TRACKING_SERVERS@/${tracking%$'\n'}}"
  printf '%s\n' "$text"
}

bind_address() {  # an IPv6 address is written [ADDR]:PORT
  if [[ "$lb_host" == *:* && "$lb_host" != \[* ]]; then echo "[$lb_host]:$lb_port"; else echo "$lb_host:$lb_port"; fi
}

if [ "$print_config" = 1 ]; then
  [ -n "$servers" ] || die "--print-config needs --servers HOST:PORT[,HOST:PORT...]"
  IFS=, read -r -a list <<<"$servers"
  for s in "${list[@]}"; do [[ "$s" =~ ^.+:[0-9]+$ ]] || die "--servers: '$s' is not HOST:PORT"; done
  render_config "$(bind_address)" "${list[@]}"
  exit 0
fi
[ -z "$servers" ] || die "--servers only goes with --print-config"

[ -x "$tern" ] || die "no tern binary at $tern (scripts/build.sh, or --tern PATH)"
command -v "$haproxy" >/dev/null || die "haproxy not found (apt-get install haproxy, or --haproxy PATH)"

# GPUs: those CUDA_VISIBLE_DEVICES names when it is set (empty: none, as for CUDA), else
# every one nvidia-smi lists; a replica with --tensor-parallel-size K takes K of them.
gpus=()
if [ -n "${CUDA_VISIBLE_DEVICES+set}" ]; then
  IFS=, read -r -a gpus <<<"$CUDA_VISIBLE_DEVICES"
elif command -v nvidia-smi >/dev/null; then
  count=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
  for ((g = 0; g < count; ++g)); do gpus+=("$g"); done
fi
tp=1
for ((a = 0; a < ${#serve_args[@]}; ++a)); do
  case "${serve_args[a]}" in
    --tensor-parallel-size) tp=${serve_args[a + 1]:-1} ;;
    --tensor-parallel-size=*) tp=${serve_args[a]#*=} ;;
  esac
done
is_uint "$tp" && [ "$tp" -ge 1 ] || die "--tensor-parallel-size must be a positive integer, got '$tp'"
groups=$((${#gpus[@]} / tp))
if [ -z "$replicas" ]; then replicas=$((groups > 0 ? groups : 2)); fi
[ "${#gpus[@]}" -eq 0 ] || [ "$groups" -ge 1 ] || die "--tensor-parallel-size $tp needs $tp GPUs, ${#gpus[@]} found"
[ -n "$replica_port" ] || replica_port=$((lb_port + 1))
[ $((replica_port + replicas - 1)) -le 65535 ] || die "replica ports $replica_port.. run past 65535"

if [ -z "$log_dir" ]; then log_dir=$(mktemp -d "${TMPDIR:-/tmp}/tern-replicas.XXXXXX"); fi
mkdir -p "$log_dir"

pids=() haproxy_pid="" stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM
  echo "replicas.sh: stopping: draining the replicas" >&2
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$haproxy_pid" ]; then
    kill -TERM "$haproxy_pid" 2>/dev/null || true
    wait "$haproxy_pid" 2>/dev/null || true
  fi
  echo "replicas.sh: stopped" >&2
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

# Each child runs in its own session (setsid): Ctrl-C reaches only this script, which
# drains them with one SIGTERM each (a second signal would make tern exit at once).
addresses=()
for ((i = 0; i < replicas; ++i)); do
  port=$((replica_port + i))
  env_gpu=() devices=""
  if [ "${#gpus[@]}" -gt 0 ]; then
    first=$(((i % groups) * tp))
    devices=$(IFS=,; echo "${gpus[*]:first:tp}")
    env_gpu=(env "CUDA_VISIBLE_DEVICES=$devices")
  fi
  "${env_gpu[@]}" setsid "$tern" serve --host 127.0.0.1 --port "$port" "${serve_args[@]}" \
    >"$log_dir/replica-$((i + 1)).log" 2>&1 &
  pids+=("$!")
  addresses+=("127.0.0.1:$port")
  echo "replicas.sh: replica r$((i + 1)) on 127.0.0.1:$port${devices:+ (CUDA_VISIBLE_DEVICES=$devices)}, log $log_dir/replica-$((i + 1)).log" >&2
done

# /health at HOST PORT over bash's /dev/tcp: 0 when it answers 200.
healthy() (
  exec 3<>"/dev/tcp/$1/$2" || exit 1
  printf 'GET /health HTTP/1.0\r\n\r\n' >&3
  read -r -t 2 _ status _ <&3 || exit 1
  [ "$status" = 200 ]
) 2>/dev/null
for ((i = 0; i < replicas; ++i)); do
  port=$((replica_port + i))
  until healthy 127.0.0.1 "$port"; do
    kill -0 "${pids[i]}" 2>/dev/null || { echo "replicas.sh: replica r$((i + 1)) exited; its log:" >&2; tail -n 20 "$log_dir/replica-$((i + 1)).log" >&2; exit 1; }
    sleep 0.2
  done
done

render_config "$(bind_address)" "${addresses[@]}" >"$log_dir/haproxy.cfg"
"$haproxy" -c -q -f "$log_dir/haproxy.cfg" || die "HAProxy refused $log_dir/haproxy.cfg"
setsid "$haproxy" -db -f "$log_dir/haproxy.cfg" >"$log_dir/haproxy.log" 2>&1 &
haproxy_pid=$!
probe_host=$lb_host
case "$lb_host" in 0.0.0.0) probe_host=127.0.0.1 ;; ::|\[::\]) probe_host=::1 ;; esac
until healthy "${probe_host//[\[\]]/}" "$lb_port"; do
  kill -0 "$haproxy_pid" 2>/dev/null || { echo "replicas.sh: HAProxy exited; its log:" >&2; tail -n 20 "$log_dir/haproxy.log" >&2; exit 1; }
  sleep 0.2
done
echo "replicas.sh: $replicas replicas behind HAProxy on http://$(bind_address) (config and logs in $log_dir); Ctrl-C stops" >&2

# Runs until HAProxy exits or every replica has; a replica that dies alone leaves the
# rotation through the health checks and is reported here.
live=("${pids[@]}")
while true; do
  wait -n "$haproxy_pid" "${live[@]}" || true
  if ! kill -0 "$haproxy_pid" 2>/dev/null; then echo "replicas.sh: HAProxy exited; its log is $log_dir/haproxy.log" >&2; exit 1; fi
  still=()
  for pid in "${live[@]}"; do kill -0 "$pid" 2>/dev/null && still+=("$pid"); done
  if [ "${#still[@]}" -lt "${#live[@]}" ]; then
    echo "replicas.sh: $((${#live[@]} - ${#still[@]})) replica(s) exited; ${#still[@]} left (logs in $log_dir)" >&2
  fi
  [ "${#still[@]}" -gt 0 ] || { echo "replicas.sh: every replica exited" >&2; exit 1; }
  live=("${still[@]}")
done
