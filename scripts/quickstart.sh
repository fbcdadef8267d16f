#!/usr/bin/env bash
# Builds the example crews and the host, starts crewhost on the embedded
# store, deploys the examples, runs `research` statelessly and `chat` twice in
# one thread, and prints what each run returned.
#
# Usage: scripts/quickstart.sh [--exit]
#   --exit   stop the server once the scripted runs are done (used by CI);
#            without it the server keeps running until Ctrl-C.
# Environment:
#   CREWHOST_ADDR      address to listen on (default 127.0.0.1:8080;
#                      127.0.0.1:0 picks a free port)
#   CREWHOST_DATA_DIR  data directory (default ./.crewhost)
set -euo pipefail

cd "$(dirname "$0")/.."
exit_when_done=false
case "${1:-}" in
  --exit) exit_when_done=true ;;
  "") ;;
  *) echo "usage: scripts/quickstart.sh [--exit]" >&2; exit 2 ;;
esac

addr="${CREWHOST_ADDR:-127.0.0.1:8080}"
data_dir="${CREWHOST_DATA_DIR:-./.crewhost}"
crews="target/crews/wasm32-wasip2/release"
crewhost="target/debug/crewhost"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  step "Installing the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

step "Building the example crews (wasm32-wasip2 components)"
cargo build --release --target wasm32-wasip2 --target-dir target/crews \
  -p crew-echo -p crew-research -p crew-chat

step "Building the host"
cargo build -p crewhost

step "Starting crewhost on $addr with the data directory $data_dir"
mkdir -p "$data_dir"
log="$data_dir/server.log"
: > "$log"
"$crewhost" serve --addr "$addr" --data-dir "$data_dir" >>"$log" 2>&1 &
server_pid=$!
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
trap stop_server EXIT

url=""
for _ in $(seq 1 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "crewhost exited during start-up; its log ($log):" >&2
    cat "$log" >&2
    exit 1
  fi
  url=$(sed -n 's/^crewhost listening on //p' "$log" | tail -n 1)
  [ -n "$url" ] && break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "crewhost did not start within 30 s; its log ($log):" >&2
  cat "$log" >&2
  exit 1
fi
grep -E '^(Created the API key|It is saved in|This is the only time)' "$log" || true
echo "crewhost is listening on $url (server log: $log)"

export CREWHOST_URL="$url"
cli() { "$crewhost" --data-dir "$data_dir" "$@"; }

step "Deploying echo, research and chat"
for crew in echo research chat; do
  cli deploy "$crews/crew_$crew.wasm" --name "$crew" >/dev/null
  echo "deployed $crew"
done

step "A stateless run: research on the topic \"tidal power\""
cli invoke research -i '{"topic": "tidal power"}'

step "A thread: two chat runs that share values"
thread_id=$(cli threads create chat | sed -n 's/^  "thread_id": "\(.*\)",\{0,1\}$/\1/p')
echo "created thread $thread_id"
echo "-- first run"
cli invoke chat --thread "$thread_id" -i '{"message": "My boat is called Marlin."}'
echo "-- second run, which remembers the first"
cli invoke chat --thread "$thread_id" -i '{"message": "What is my boat called?"}'
echo "-- the thread's history: $(cli threads history "$thread_id" | grep -c '"checkpoint_id"') checkpoints"

if $exit_when_done; then
  step "Done; stopping the server (--exit)"
  exit 0
fi

key_file="$data_dir/api-key"
step "crewhost keeps running (PID $server_pid); press Ctrl-C to stop it"
cat <<TEXT
Try it with curl:

  export CREWHOST_URL=$url
  export CREWHOST_API_KEY=\$(cat $key_file)
  curl -s \$CREWHOST_URL/v1/deployments -H "Authorization: Bearer \$CREWHOST_API_KEY"
  curl -s \$CREWHOST_URL/v1/runs/wait -H "Authorization: Bearer \$CREWHOST_API_KEY" \\
    -H 'Content-Type: application/json' -d '{"deployment_id": "echo", "input": {"hello": "world"}}'
  curl -s \$CREWHOST_URL/v1/threads/$thread_id/history -H "Authorization: Bearer \$CREWHOST_API_KEY"
TEXT
trap - EXIT
trap stop_server INT TERM
wait "$server_pid"
