#!/usr/bin/env bash
# Container entry point (Dockerfile CMD): starts A1111 headless in the background, then execs the worker.
#
# 1. Picks the checkpoint: --ckpt <baked /model.safetensors> when that file is non-empty, --ckpt-dir
#    <volume>/models/Stable-diffusion (network volume) when it exists or when nothing is baked; A1111_CKPT /
#    A1111_CKPT_DIR override both.
#    The volume's other model folders (<volume>/models/Lora, VAE, embeddings, ControlNet, adetailer) go to A1111 by
#    its flags (--lora-dir, --vae-dir, --embeddings-dir, --controlnet-dir) or, for ADetailer (no flag), as links in
#    $A1111_DIR/models/adetailer; a missing folder is a log line. MODELS_DEBUG=true lists every folder's models.
#    BACKEND (a1111 | forge) picks the flags: Forge gets the same headless flags (same /sdapi/v1 API), its built-in
#    ControlNet's --controlnet-dir, and A1111_EXTRA_ARGS without the A1111 memory/attention flags it refuses.
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
#   BACKEND [detected]                 a1111 or forge (the image sets it; unset: forge when $A1111_DIR/modules_forge exists)
#   MODELS_DEBUG [false]               true: log each model folder, whether it exists, its files by extension, first names
#   A1111_DIR [/stable-diffusion-webui]    A1111's folder (A1111 runs there)
#   A1111_LAUNCH [$A1111_DIR/venv/bin/python -u $A1111_DIR/webui.py]  command that starts A1111 (tests use a fake)
#   WORKER_DIR [/app]                  the worker's folder (its cwd: ./test_input.json is read from there)
#   WORKER_CMD [node --initial-old-space-size=64 --max-semi-space-size=2 /app/dist/handler/main.js]  the worker command (tests use a
#                                      fake; the V8 heap flags: handler/runpod/worker/launch.ts)
#   MALLOC_ARENA_MAX [1], MALLOC_TRIM_THRESHOLD_ [25165824]  glibc malloc settings, exported for the worker only
#                                      (after A1111 started; handler/runpod/worker/launch.ts, WORKER_MALLOC_ENV)
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

# --- the backend ------------------------------------------------------------------------------------------------
# The backend the image installed in A1111_DIR (the image sets BACKEND): a1111 (AUTOMATIC1111) or forge (Forge, which
# has a modules_forge folder). Unset: whichever is installed.
trim "${BACKEND:-}"
backend="${REPLY,,}"
if [[ -z "$backend" ]]; then
  if [[ -d "$A1111_DIR/modules_forge" ]]; then backend=forge; else backend=a1111; fi
fi
case "$backend" in
  a1111)
    [[ ! -d "$A1111_DIR/modules_forge" ]] ||
      die "BACKEND=a1111 but $A1111_DIR is Forge (it has modules_forge): set BACKEND=forge, or unset it"
    ;;
  forge)
    [[ -d "$A1111_DIR/modules_forge" || ! -d "$A1111_DIR/modules" ]] ||
      die "BACKEND=forge but $A1111_DIR is A1111 (no modules_forge folder): set BACKEND=a1111, or unset it"
    ;;
  *) die "BACKEND=\"${BACKEND:-}\" is not a backend: allowed a1111 or forge" ;;
esac
if [[ "$backend" == forge ]]; then backend_name=Forge; else backend_name=A1111; fi
log "backend: $backend_name ($A1111_DIR; BACKEND=${BACKEND:-unset, detected})"

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

# --- the other model folders of the network volume ----------------------------------------------------------------
# RunPod's layout (worker-a1111's and A1111's own folder names) under <volume>/models: each folder that exists is
# passed to the backend by its flag (LoRA, VAE, embeddings, ControlNet) or linked into A1111's models folder
# (ADetailer, which has no flag); a missing one is one log line, never an error. MODELS_DEBUG lists what is where.
model_args=()
vol_models="$volume/models"
a1111_models="$A1111_DIR/models"

# count_models DIR → REPLY: "<n> files (<n> .ext, …): first, names, …" for DIR's files (recursive, links followed,
# hidden files skipped), or "empty".
count_models() {
  local d="$1" f ext names=() total=0
  local -A by_ext=()
  while IFS= read -r f; do
    [[ -n "$f" ]] || continue
    total=$((total + 1))
    ext="${f##*/}"
    if [[ "$ext" == *.* ]]; then ext=".${ext##*.}"; else ext="(no extension)"; fi
    by_ext["$ext"]=$((${by_ext["$ext"]:-0} + 1))
    ((${#names[@]} >= 5)) || names+=("$f")
  done < <(find -L "$d" -type f ! -name '.*' -printf '%P\n' 2>/dev/null | LC_ALL=C sort || true)
  if ((total == 0)); then REPLY="empty"; return; fi
  local counts="" e n shown=""
  while IFS= read -r e; do counts+="${counts:+, }${by_ext[$e]} $e"; done < <(printf '%s\n' "${!by_ext[@]}" | LC_ALL=C sort)
  for n in "${names[@]}"; do shown+="${shown:+, }$n"; done
  ((total <= 5)) || shown+=", …"
  REPLY="$total files ($counts): $shown"
}

# debug_folder WHAT DIR: with MODELS_DEBUG, one line: DIR, whether it exists, its model files.
debug_folder() {
  [[ "$models_debug" == 1 ]] || return 0
  if [[ -d "$2" ]]; then
    count_models "$2"
    log "models debug: $1 $2: exists, $REPLY"
  else
    log "models debug: $1 $2: missing"
  fi
}

# volume_folder DIR… → REPLY: the first DIR that is a folder, else "".
volume_folder() {
  local d
  REPLY=""
  for d in "$@"; do
    if [[ -d "$d" ]]; then REPLY="$d"; return; fi
  done
}

# link_adetailer SRC: links each .pt/.pth model of SRC (recursive; ADetailer scans <models>/adetailer for these) into
# A1111's models/adetailer, a name already there left alone; logs what it did, never fails.
link_adetailer() {
  local src="$1" dest="$a1111_models/adetailer" f name linked=0 kept=0
  if ! mkdir -p "$dest" 2>/dev/null; then
    log "warning: models: cannot create $dest: ADetailer models of $src not linked."
    return 0
  fi
  while IFS= read -r f; do
    [[ -n "$f" ]] || continue
    name="${f##*/}"
    if [[ -L "$dest/$name" && "$(readlink "$dest/$name")" == "$f" ]]; then
      linked=$((linked + 1))
    elif [[ -e "$dest/$name" || -L "$dest/$name" ]]; then
      kept=$((kept + 1))
    elif ln -s "$f" "$dest/$name" 2>/dev/null; then
      linked=$((linked + 1))
    else
      log "warning: models: cannot link $f into $dest."
    fi
  done < <(find -L "$src" -type f \( -name '*.pt' -o -name '*.pth' \) ! -name '.*' 2>/dev/null | LC_ALL=C sort || true)
  local note=""
  ((kept == 0)) || note=" ($kept of the same name already there, kept)"
  log "models: ADetailer: $src → $linked models linked into $dest$note"
}

models_debug=0
case "${MODELS_DEBUG:-false}" in
  1 | true | TRUE | True | yes | YES | on | ON) models_debug=1 ;;
esac

if [[ ! -d "$volume" ]]; then
  log "models: no network volume at $volume: only the image's models (in $a1111_models)."
elif [[ ! -d "$vol_models" ]]; then
  log "models: network volume at $volume, but no $vol_models folder: only the image's models (in $a1111_models)."
else
  # LoRA, VAE, embeddings: A1111's own flags (Forge has the same ones).
  volume_folder "$vol_models/Lora"
  if [[ -n "$REPLY" ]]; then
    model_args+=(--lora-dir "$REPLY")
    log "models: LoRAs: $REPLY (--lora-dir)"
  else
    log "models: no $vol_models/Lora: LoRAs from $a1111_models/Lora only."
  fi
  volume_folder "$vol_models/VAE"
  if [[ -n "$REPLY" ]]; then
    model_args+=(--vae-dir "$REPLY")
    log "models: VAEs: $REPLY (--vae-dir)"
  else
    log "models: no $vol_models/VAE: VAEs from $a1111_models/VAE only."
  fi
  # embeddings: <volume>/models/embeddings, or <volume>/embeddings (this worker's earlier layout).
  volume_folder "$vol_models/embeddings" "$volume/embeddings"
  if [[ -n "$REPLY" ]]; then
    model_args+=(--embeddings-dir "$REPLY")
    log "models: embeddings: $REPLY (--embeddings-dir)"
  else
    log "models: no $vol_models/embeddings (nor $volume/embeddings): embeddings from $A1111_DIR/embeddings only."
  fi
  # ControlNet: --controlnet-dir, an extra folder next to models/ControlNet; Forge has it built in, A1111 only with
  # the sd-webui-controlnet extension (A1111 refuses a flag no extension defines, and exits).
  volume_folder "$vol_models/ControlNet"
  if [[ -z "$REPLY" ]]; then
    log "models: no $vol_models/ControlNet: ControlNet models from $a1111_models/ControlNet only."
  elif [[ "$backend" == forge || -d "$A1111_DIR/extensions/sd-webui-controlnet" ]]; then
    model_args+=(--controlnet-dir "$REPLY")
    log "models: ControlNet: $REPLY (--controlnet-dir)"
  else
    log "models: $REPLY found, but ControlNet is not installed ($A1111_DIR/extensions/sd-webui-controlnet): not used."
  fi
  # ADetailer: no flag (its extra folder is a UI setting): its models are linked into <A1111>/models/adetailer.
  volume_folder "$vol_models/adetailer"
  if [[ -z "$REPLY" ]]; then
    log "models: no $vol_models/adetailer: ADetailer models from $a1111_models/adetailer only."
  elif [[ -d "$A1111_DIR/extensions/adetailer" ]]; then
    link_adetailer "$REPLY"
  else
    log "models: $REPLY found, but ADetailer is not installed ($A1111_DIR/extensions/adetailer): not used."
  fi
  # A folder named like a known one but in another case (A1111's names are case-sensitive on Linux).
  for d in "$vol_models"/*/; do
    [[ -d "$d" ]] || continue
    d="${d%/}"
    d="${d##*/}"
    for known in Stable-diffusion Lora VAE embeddings ControlNet adetailer; do
      if [[ "$d" != "$known" && "${d,,}" == "${known,,}" ]]; then
        log "warning: models: $vol_models/$d is not used: the folder must be named $known (names are case-sensitive)."
      fi
    done
  done
fi

if [[ "$models_debug" == 1 ]]; then
  log "models debug: BACKEND=$backend, volume $volume ($([[ -d "$volume" ]] && echo mounted || echo 'not mounted'))"
  if [[ -s "$baked" ]]; then log "models debug: baked checkpoint $baked: $(stat -L -c %s "$baked" 2>/dev/null || echo '?') bytes"; fi
  for name in Stable-diffusion Lora VAE embeddings ControlNet adetailer; do
    debug_folder "volume $name" "$vol_models/$name"
    if [[ "$name" == embeddings ]]; then
      [[ ! -d "$volume/embeddings" ]] || debug_folder "volume embeddings (legacy)" "$volume/embeddings"
      debug_folder "image embeddings" "$A1111_DIR/embeddings"
    else
      debug_folder "image $name" "$a1111_models/$name"
    fi
  done
  if [[ -d "$vol_models" ]]; then
    others=()
    for d in "$vol_models"/*/; do
      [[ -d "$d" ]] || continue
      d="${d%/}"
      d="${d##*/}"
      case "$d" in Stable-diffusion | Lora | VAE | embeddings | ControlNet | adetailer) ;; *) others+=("$d") ;; esac
    done
    ((${#others[@]} == 0)) || log "models debug: other folders in $vol_models (not passed to A1111): ${others[*]}"
  fi
fi

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
# Per backend: Forge exits at start-up on A1111's memory flags (its memory management is automatic) and picks its
# attention itself (xformers when installed); A1111 exits on Forge's own flags (an unknown flag is an argparse error).
if [[ "$backend" == forge ]]; then
  kept=()
  for a in "${extra[@]}"; do
    case "$a" in
      --medvram | --medvram-sdxl)
        log "A1111_EXTRA_ARGS: $a dropped: Forge refuses it (its memory management is automatic)." ;;
      --lowvram)
        log "A1111_EXTRA_ARGS: --lowvram → --always-offload-from-vram (Forge refuses --lowvram; this is its equivalent)."
        kept+=(--always-offload-from-vram) ;;
      --xformers | --force-enable-xformers | --opt-sdp-attention | --opt-sdp-no-mem-attention | --opt-split-attention | --opt-sub-quad-attention)
        log "A1111_EXTRA_ARGS: $a dropped: Forge chooses its attention itself (xformers when installed);" \
          "its own flags: --attention-pytorch, --attention-split, --attention-quad, --disable-xformers." ;;
      *) kept+=("$a") ;;
    esac
  done
  extra=("${kept[@]}")
else
  for a in "${extra[@]}"; do
    case "$a" in
      --always-offload-from-vram | --always-gpu | --always-high-vram | --always-normal-vram | --always-low-vram | \
        --always-no-vram | --always-cpu | --attention-split | --attention-quad | --attention-pytorch | \
        --disable-xformers | --cuda-malloc | --cuda-stream | --pin-shared-memory | --forge-ref-a1111-home | \
        --unet-in-* | --vae-in-* | --clip-in-* | --all-in-fp16 | --all-in-fp32)
        die "A1111_EXTRA_ARGS has $a, a Forge flag: A1111 refuses it and exits (remove it, or use a Forge image," \
          "BACKEND=forge)" ;;
    esac
  done
fi
# a1111_args PORT → args: A1111's whole command line after the launcher, for the backend on PORT.
a1111_args() {
  args=("${headless[@]}" "$1" "${ckpt_args[@]}" "${model_args[@]}" "${auth_args[@]}" "${extra[@]}")
}

launch=()
read -r -a launch <<<"${A1111_LAUNCH:-$A1111_DIR/venv/bin/python -u $A1111_DIR/webui.py}"
((${#launch[@]} > 0)) || die "A1111_LAUNCH is empty"
worker=()
# V8's heap sizes for the worker (handler/runpod/worker/launch.ts, WORKER_NODE_FLAGS). They only tune memory
# and speed: a node that refused them would not start the worker at all, so then it runs without them.
heap_flags="--initial-old-space-size=64 --max-semi-space-size=2"
if [[ -z "${WORKER_CMD:-}" ]] && ! node $heap_flags -e 0 >/dev/null 2>&1; then
  log "node refuses the V8 heap flags $heap_flags: the worker runs without them"
  heap_flags=""
fi
read -r -a worker <<<"${WORKER_CMD:-node $heap_flags $WORKER_DIR/dist/handler/main.js}"
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

# glibc malloc settings for the worker only (A1111 started above without them): the freed memory of a large answer's
# socket reads stays for the next one instead of being faulted in again (handler/runpod/worker/launch.ts,
# WORKER_MALLOC_ENV). A value already in the environment is kept.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-1}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-25165824}"

cd "$WORKER_DIR"
exec "${worker[@]}" "$@"
