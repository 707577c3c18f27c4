#!/usr/bin/env bash
# Container entry point (Dockerfile CMD): starts A1111 headless in the background, then execs the worker.
#
# 1. Picks the checkpoint: --ckpt <baked /model.safetensors> when that file is non-empty, --ckpt-dir
#    <volume>/models/Stable-diffusion (network volume) when it exists or when nothing is baked; A1111_CKPT /
#    A1111_CKPT_DIR override both.
# 2. Launches A1111 with the headless flags (API only, loopback only: no --listen; no install, no download), its
#    stdout and stderr sent to this container's stdout, each line prefixed "[a1111] ".
#    Several backends (A1111_URLS, one A1111 per GPU): one A1111 per URL, the i-th (0-based) on that URL's port with
#    CUDA_VISIBLE_DEVICES=<i> (or the i-th entry of the user's own CUDA_VISIBLE_DEVICES list), its lines prefixed
#    "[a1111:<i>] ".
# 3. Exports A1111_PID (A1111's process id) when there is one backend: the worker stops waiting at once if that
#    process exits. With several, A1111_PID is not exported (the worker would ignore it: it names one process).
# 4. execs the worker with this script's arguments, so the worker gets the container's signals.
#
# Environment (defaults in brackets):
#   A1111_URL [http://127.0.0.1:3000]  the worker's A1111 URL; its port is A1111's --port
#   A1111_URLS                         several backends, comma-separated (wins over A1111_URL): one A1111 per URL
#   A1111_PORT                         A1111's --port, when it must differ from A1111_URL's (not with A1111_URLS)
#   CUDA_VISIBLE_DEVICES               with A1111_URLS: the devices, one per URL in order [0,1,2,…]
#   A1111_CKPT                         checkpoint file for --ckpt (wins over the baked one)
#   A1111_CKPT_DIR                     checkpoint folder for --ckpt-dir (wins over the volume's)
#   A1111_EXTRA_ARGS                   more A1111 flags, split on whitespace (e.g. "--no-hashing --medvram-sdxl")
#   A1111_API_AUTH                     user:password: passed to A1111 as --api-auth (the worker sends it)
#   A1111_BAKED_CKPT [/model.safetensors]  where the image's baked checkpoint is
#   A1111_VOLUME [/runpod-volume]      the network volume's mount path
#   A1111_DIR [/stable-diffusion-webui]    A1111's folder (A1111 runs there)
#   A1111_LAUNCH [$A1111_DIR/venv/bin/python -u $A1111_DIR/webui.py]  command that starts A1111 (tests use a fake)
#   WORKER_DIR [/app]                  the worker's folder (its cwd: ./test_input.json is read from there)
#   WORKER_CMD [node /app/dist/handler/main.js]  the worker command (tests use a fake)
set -euo pipefail

log() { printf '[start.sh] %s\n' "$*"; }
die() { printf '[start.sh] error: %s\n' "$*" >&2; exit 2; }

A1111_DIR="${A1111_DIR:-/stable-diffusion-webui}"
WORKER_DIR="${WORKER_DIR:-/app}"
baked="${A1111_BAKED_CKPT:-/model.safetensors}"
volume="${A1111_VOLUME:-/runpod-volume}"

# trim TEXT → REPLY: TEXT without leading and trailing whitespace.
trim() {
  REPLY="${1#"${1%%[![:space:]]*}"}"
  REPLY="${REPLY%"${REPLY##*[![:space:]]}"}"
}

# split_commas TEXT → parts: TEXT's comma-separated entries, trimmed, empty ones kept ("a,,b," → a, "", b, "").
split_commas() {
  parts=()
  local rest="$1,"
  while [[ -n "$rest" ]]; do
    trim "${rest%%,*}"
    parts+=("$REPLY")
    rest="${rest#*,}"
  done
}

# url_port NAME URL → REPLY: the port of URL (http 80 / https 443 when it has none); warns when its host is not
# loopback; exits 2 when URL is not an http(s)://host[:port] URL. NAME names the variable in messages.
url_port() {
  local name="$1" u="$2"
  [[ "$u" =~ ^(https?)://(\[[^]]*\]|[^/:?#]+)(:([0-9]+))?([/?#].*)?$ ]] ||
    die "$name=\"$u\" is not an http(s)://host[:port] URL"
  REPLY="${BASH_REMATCH[4]}"
  if [[ -z "$REPLY" ]]; then
    if [[ "${BASH_REMATCH[1]}" == https ]]; then REPLY=443; else REPLY=80; fi
  fi
  case "${BASH_REMATCH[2]}" in
    127.0.0.1 | localhost | '[::1]') ;;
    *) log "warning: $name=$u is not a loopback address, but A1111 listens on 127.0.0.1 only (no --listen)." ;;
  esac
}

# check_port PORT WHERE: exits 2 unless PORT is an integer from 1 to 65535; WHERE says where it came from.
check_port() {
  if ! [[ "$1" =~ ^[0-9]+$ ]] || ((10#$1 < 1 || 10#$1 > 65535)); then
    die "A1111 port \"$1\" is invalid: allowed an integer from 1 to 65535 ($2)"
  fi
}

# --- the backends: ports[i] (A1111's --port), devices[i] (its CUDA_VISIBLE_DEVICES, "" = inherited) ----------------
# One backend (A1111_URL): the port is A1111_PORT, else the port of A1111_URL; CUDA_VISIBLE_DEVICES is left as is.
# Several (A1111_URLS, comma-separated, as the worker reads it): one A1111 per URL, on that URL's port, backend i on
# device i, or on the i-th entry of CUDA_VISIBLE_DEVICES when the user set it.
ports=()
devices=()
trim "${A1111_URLS:-}"
urls_list="$REPLY"
if [[ -n "$urls_list" ]]; then
  trim "${A1111_URL:-}"
  # A1111_URLS wins (as in the worker): the Hub form may pass A1111_URL's default along with it.
  [[ -z "$REPLY" ]] || log "A1111_URLS is set: A1111_URL=$REPLY is ignored."
  [[ -z "${A1111_PORT:-}" ]] ||
    die "A1111_PORT and A1111_URLS are both set: with A1111_URLS each A1111's port is the port of its URL;" \
      "unset A1111_PORT"
  split_commas "$urls_list"
  urls=("${parts[@]}")
  for i in "${!urls[@]}"; do
    url_port "A1111_URLS[$i]" "${urls[i]}"
    check_port "$REPLY" "the port of A1111_URLS[$i]"
    for j in "${!ports[@]}"; do
      ((10#${ports[j]} != 10#$REPLY)) ||
        die "A1111_URLS[$i] and A1111_URLS[$j] have the same port $REPLY: each A1111 needs a port of its own"
    done
    ports+=("$REPLY")
  done
  if ((${#urls[@]} == 1)); then
    devices=("") # one backend: as with A1111_URL
  elif [[ -n "${CUDA_VISIBLE_DEVICES:-}" ]]; then
    split_commas "$CUDA_VISIBLE_DEVICES"
    ((${#parts[@]} >= ${#urls[@]})) ||
      die "A1111_URLS lists ${#urls[@]} backends but CUDA_VISIBLE_DEVICES=\"$CUDA_VISIBLE_DEVICES\"" \
        "only ${#parts[@]} devices:" \
        "one device per backend is needed (or unset CUDA_VISIBLE_DEVICES: backend i then runs on GPU i)"
    for i in "${!urls[@]}"; do
      [[ -n "${parts[i]}" ]] || die "CUDA_VISIBLE_DEVICES=\"$CUDA_VISIBLE_DEVICES\" has an empty entry at position $i"
      devices+=("${parts[i]}")
    done
  else
    for i in "${!urls[@]}"; do devices+=("$i"); done
  fi
else
  trim "${A1111_URL:-}"
  url="${REPLY:-http://127.0.0.1:3000}"
  if [[ -n "${A1111_PORT:-}" ]]; then
    port="$A1111_PORT"
  else
    url_port A1111_URL "$url"
    port="$REPLY"
  fi
  check_port "$port" "A1111_PORT or the port of A1111_URL"
  ports=("$port")
  devices=("")
fi
n=${#ports[@]}

# --- the checkpoint: baked in the image, or on the network volume -----------------------------------------------
ckpt_args=()
volume_ckpts="$volume/models/Stable-diffusion"
if [[ -n "${A1111_CKPT:-}" ]]; then
  [[ -f "$A1111_CKPT" ]] || log "warning: A1111_CKPT=$A1111_CKPT does not exist."
  ckpt_args+=(--ckpt "$A1111_CKPT")
  log "checkpoint: $A1111_CKPT (A1111_CKPT)"
elif [[ -s "$baked" ]]; then
  ckpt_args+=(--ckpt "$baked")
  log "checkpoint: $baked (baked into the image)"
fi
if [[ -n "${A1111_CKPT_DIR:-}" ]]; then
  [[ -d "$A1111_CKPT_DIR" ]] || log "warning: A1111_CKPT_DIR=$A1111_CKPT_DIR does not exist."
  ckpt_args+=(--ckpt-dir "$A1111_CKPT_DIR")
  log "checkpoint folder: $A1111_CKPT_DIR (A1111_CKPT_DIR)"
elif [[ -d "$volume_ckpts" ]]; then
  ckpt_args+=(--ckpt-dir "$volume_ckpts")
  log "checkpoint folder: $volume_ckpts (network volume)"
elif ((${#ckpt_args[@]} == 0)); then
  ckpt_args+=(--ckpt-dir "$volume_ckpts")
  log "warning: no checkpoint: $baked is empty and $volume_ckpts does not exist (is a network volume attached?)." \
    "A1111 will start without a model and the worker's warm-up will fail."
fi

# Other model folders of the network volume, when present.
model_args=()
[[ -d "$volume/models/Lora" ]] && model_args+=(--lora-dir "$volume/models/Lora")
[[ -d "$volume/models/VAE" ]] && model_args+=(--vae-dir "$volume/models/VAE")
[[ -d "$volume/embeddings" ]] && model_args+=(--embeddings-dir "$volume/embeddings")

# --- A1111's command line ------------------------------------------------------------------------------------------
# Headless flags (spec a1111 §2.1): API only, on loopback (no --listen), nothing installed, downloaded or checked.
# --port comes last: each backend's port follows it (a1111_args).
headless=(
  --api --nowebui
  --no-download-sd-model
  --skip-version-check --skip-python-version-check --skip-torch-cuda-test --skip-install
  --port
)
auth_args=()
if [[ -n "${A1111_API_AUTH:-}" ]]; then auth_args=(--api-auth "$A1111_API_AUTH"); fi
extra=()
if [[ -n "${A1111_EXTRA_ARGS:-}" ]]; then read -r -a extra <<<"$A1111_EXTRA_ARGS"; fi
for a in "${extra[@]}"; do
  case "$a" in
    --listen | --share | --server-name | --server-name=*)
      log "warning: A1111_EXTRA_ARGS has $a: A1111 then listens beyond loopback; the worker needs only 127.0.0.1." ;;
  esac
done
# a1111_args PORT → args: A1111's whole command line after the launcher, for the backend on PORT.
a1111_args() {
  args=("${headless[@]}" "$1" "${ckpt_args[@]}" "${model_args[@]}" "${auth_args[@]}" "${extra[@]}")
}

launch=()
read -r -a launch <<<"${A1111_LAUNCH:-$A1111_DIR/venv/bin/python -u $A1111_DIR/webui.py}"
((${#launch[@]} > 0)) || die "A1111_LAUNCH is empty"
worker=()
read -r -a worker <<<"${WORKER_CMD:-node $WORKER_DIR/dist/handler/main.js}"
((${#worker[@]} > 0)) || die "WORKER_CMD is empty"

# shown_args → REPLY: "${args[*]}" with the API password replaced by ***, for the log.
shown_args() {
  REPLY="${args[*]}"
  if [[ -n "${A1111_API_AUTH:-}" ]]; then REPLY="${REPLY//"$A1111_API_AUTH"/***}"; fi
}

# tcmalloc for A1111 only (less memory fragmentation with torch), when the library is installed.
tcmalloc=""
for lib in /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4; do
  if [[ -f "$lib" ]]; then tcmalloc="$lib"; break; fi
done

# --- launch: A1111's stdout+stderr → prefixed lines on our stdout (line-buffered sed, no file) ---------------------
# start_a1111 PREFIX DEVICE: starts A1111 in the background with "${args[@]}", CUDA_VISIBLE_DEVICES=DEVICE unless
# DEVICE is empty, LD_PRELOAD=tcmalloc when there is one; started_pid ← its PID.
# With the process substitution, $! is A1111's own PID (the background subshell execs it), not the prefixer's.
# The sed program keeps only what follows the last carriage return of a line, so a progress bar redrawn with \r
# shows once, in its final state.
start_a1111() {
  local prefix="$1" device="$2"
  (
    if [[ -n "$device" ]]; then export CUDA_VISIBLE_DEVICES="$device"; fi
    if [[ -n "$tcmalloc" ]]; then export LD_PRELOAD="$tcmalloc"; fi
    exec "${launch[@]}" "${args[@]}"
  ) > >(exec sed -u -e 's/\r$//' -e 's/.*\r//' -e "s/^/$prefix/") 2>&1 &
  started_pid=$!
}

cd "$A1111_DIR"
if ((n == 1)); then
  a1111_args "${ports[0]}"
  shown_args
  log "starting A1111: ${launch[*]} $REPLY"
  start_a1111 '[a1111] ' "${devices[0]}"
  A1111_PID=$started_pid
  log "A1111 started, pid $A1111_PID; starting the worker: ${worker[*]} $*"
else
  pids=()
  for i in "${!ports[@]}"; do
    a1111_args "${ports[i]}"
    shown_args
    log "starting A1111 #$i (CUDA_VISIBLE_DEVICES=${devices[i]}): ${launch[*]} $REPLY"
    start_a1111 "[a1111:$i] " "${devices[i]}"
    pids+=("$started_pid")
  done
  # A1111_PID names one process: the worker ignores it with several backends, so none is passed on.
  unset A1111_PID
  log "$n A1111 started, pids ${pids[*]} (one per backend of A1111_URLS; A1111_PID not set);" \
    "starting the worker: ${worker[*]} $*"
fi
# One backend: A1111_PID goes to the worker. Several: it is unset, and an unset variable is not exported.
export A1111_PID

cd "$WORKER_DIR"
exec "${worker[@]}" "$@"
