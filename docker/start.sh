#!/usr/bin/env bash
# Container entry point (Dockerfile CMD): starts A1111 headless in the background, then execs the worker.
#
# 1. Picks the checkpoint: --ckpt <baked /model.safetensors> when that file is non-empty, --ckpt-dir
#    <volume>/models/Stable-diffusion (network volume) when it exists or when nothing is baked; A1111_CKPT /
#    A1111_CKPT_DIR override both.
# 2. Launches A1111 with the headless flags (API only, loopback only: no --listen; no install, no download), its
#    stdout and stderr sent to this container's stdout, each line prefixed "[a1111] ".
# 3. Exports A1111_PID (A1111's process id): the worker stops waiting at once if that process exits.
# 4. execs the worker with this script's arguments, so the worker gets the container's signals.
#
# Environment (defaults in brackets):
#   A1111_URL [http://127.0.0.1:3000]  the worker's A1111 URL; its port is A1111's --port
#   A1111_PORT                         A1111's --port, when it must differ from A1111_URL's
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
url="${A1111_URL:-http://127.0.0.1:3000}"

# --- A1111's port: A1111_PORT, else the port of A1111_URL (http 80 / https 443 when it has none) -------------------
if [[ -n "${A1111_PORT:-}" ]]; then
  port="$A1111_PORT"
elif [[ "$url" =~ ^(https?)://(\[[^]]*\]|[^/:?#]+)(:([0-9]+))?([/?#].*)?$ ]]; then
  port="${BASH_REMATCH[4]}"
  if [[ -z "$port" ]]; then
    if [[ "${BASH_REMATCH[1]}" == https ]]; then port=443; else port=80; fi
  fi
  case "${BASH_REMATCH[2]}" in
    127.0.0.1 | localhost | '[::1]') ;;
    *) log "warning: A1111_URL=$url is not a loopback address, but A1111 listens on 127.0.0.1 only (no --listen)." ;;
  esac
else
  die "A1111_URL=\"$url\" is not an http(s)://host[:port] URL"
fi
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  die "A1111 port \"$port\" is invalid: allowed an integer from 1 to 65535 (A1111_PORT or the port of A1111_URL)"
fi

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
headless=(
  --api --nowebui --port "$port"
  --no-download-sd-model
  --skip-version-check --skip-python-version-check --skip-torch-cuda-test --skip-install
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

launch=()
read -r -a launch <<<"${A1111_LAUNCH:-$A1111_DIR/venv/bin/python -u $A1111_DIR/webui.py}"
((${#launch[@]} > 0)) || die "A1111_LAUNCH is empty"
worker=()
read -r -a worker <<<"${WORKER_CMD:-node $WORKER_DIR/dist/handler/main.js}"
((${#worker[@]} > 0)) || die "WORKER_CMD is empty"

args=("${headless[@]}" "${ckpt_args[@]}" "${model_args[@]}" "${auth_args[@]}" "${extra[@]}")
shown="${args[*]}"
if [[ -n "${A1111_API_AUTH:-}" ]]; then shown="${shown//"$A1111_API_AUTH"/***}"; fi
log "starting A1111: ${launch[*]} $shown"

# tcmalloc for A1111 only (less memory fragmentation with torch), when the library is installed.
tcmalloc=""
for lib in /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4; do
  if [[ -f "$lib" ]]; then tcmalloc="$lib"; break; fi
done

# --- launch: A1111's stdout+stderr → "[a1111] "-prefixed lines on our stdout (line-buffered sed, no file) ----------
# With the process substitution, $! is A1111's own PID (the background command execs it), not the prefixer's.
# The sed program keeps only what follows the last carriage return of a line, so a progress bar redrawn with \r
# shows once, in its final state.
cd "$A1111_DIR"
if [[ -n "$tcmalloc" ]]; then
  LD_PRELOAD="$tcmalloc" "${launch[@]}" "${args[@]}" > >(exec sed -u -e 's/\r$//' -e 's/.*\r//' -e 's/^/[a1111] /') 2>&1 &
else
  "${launch[@]}" "${args[@]}" > >(exec sed -u -e 's/\r$//' -e 's/.*\r//' -e 's/^/[a1111] /') 2>&1 &
fi
A1111_PID=$!
export A1111_PID
log "A1111 started, pid $A1111_PID; starting the worker: ${worker[*]} $*"

cd "$WORKER_DIR"
exec "${worker[@]}" "$@"
