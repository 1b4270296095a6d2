#!/usr/bin/env bash
# LocalStack's free core on this host, without Docker, as the lab's IAM home.
#
#   scripts/localstack.sh [start|stop|status]     (default: start; each one is idempotent)
#
# start: install the core into .venv-localstack (once), run it in the background bound to
# 127.0.0.1, wait until /_localstack/health answers. stop: end the process this script started.
# Settings: LOCALSTACK_PORT (4566), LOCALSTACK_STATE_DIR (.localstack: pid file, log, data).
set -euo pipefail
cd "$(dirname "$0")/.."

CORE_VERSION=2026.3.0
VENV=.venv-localstack
PORT=${LOCALSTACK_PORT:-4566}
STATE=${LOCALSTACK_STATE_DIR:-.localstack}
PIDFILE=$STATE/localstack-$PORT.pid
LOG=$STATE/localstack-$PORT.log
URL=http://127.0.0.1:$PORT
START_TIMEOUT=${LOCALSTACK_START_TIMEOUT:-60}

healthy() { curl -fsS -m 2 "$URL/_localstack/health" >/dev/null 2>&1; }

our_pid() {  # the pid this script started, if that process still runs LocalStack
  [ -f "$PIDFILE" ] || return 1
  local pid command
  pid=$(cat "$PIDFILE")
  command=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  # A recycled pid belongs to someone else: never signal it.
  [[ $command == *localstack.runtime.main* ]] && echo "$pid"
}

install() {
  if [ ! -x "$VENV/bin/python" ]; then
    local python
    python=$(scripts/find-python.sh 3.13) || {  # the core runs on Python 3.13 only
      echo "LocalStack's core needs Python 3.13: none found (PATH or pyenv)" >&2
      exit 1
    }
    "$python" -m venv "$VENV"
  fi
  local stamp=$VENV/.installed-$CORE_VERSION
  [ -f "$stamp" ] && return
  echo "installing localstack-core $CORE_VERSION into $VENV (about a minute)" >&2
  # The pins keep the core importable: newer cbor2, pyopenssl and cryptography break it.
  "$VENV/bin/pip" install -qq --disable-pip-version-check \
    "localstack-core[runtime]==$CORE_VERSION" 'cbor2<6' pyopenssl==25.3.0 'cryptography<47' \
    service-identity
  touch "$stamp"
}

start() {
  if healthy; then
    echo "LocalStack answers at $URL"
    return
  fi
  install
  mkdir -p "$STATE"
  if ! our_pid >/dev/null; then
    # Host mode even inside a container, so each core keeps its files under $STATE, not in
    # the machine-wide /var/lib/localstack; setsid: the core outlives the shell that started it.
    GATEWAY_LISTEN=127.0.0.1:$PORT GATEWAY_SERVER=hypercorn DNS_ADDRESS=0 \
      SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
      SERVICES=iam,sts,ec2,ssm,cloudformation,s3 \
      OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$(cd "$STATE" && pwd)/filesystem-$PORT" \
      setsid "$VENV/bin/python" -m localstack.runtime.main >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  fi
  local deadline=$((SECONDS + START_TIMEOUT))
  until healthy; do
    if ! our_pid >/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "LocalStack did not become healthy at $URL; last lines of $LOG:" >&2
      tail -20 "$LOG" >&2
      stop >/dev/null
      exit 1
    fi
    sleep 0.2
  done
  echo "LocalStack answers at $URL (pid $(cat "$PIDFILE"), log $LOG)"
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PIDFILE"
    echo "no LocalStack started by this script runs on port $PORT"
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$PIDFILE"
  echo "LocalStack (pid $pid) stopped"
}

status() {
  if healthy; then
    curl -fsS -m 2 "$URL/_localstack/health"
    echo
  else
    echo "LocalStack does not answer at $URL"
    return 3
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
