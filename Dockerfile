# RunPod serverless worker image: AUTOMATIC1111 v1.10.1 or Forge (headless API on 127.0.0.1:3000) with the
# ControlNet and ADetailer extensions, plus the TypeScript worker. One Dockerfile, variants by build args:
#
#   BACKEND=a1111|forge   the web UI installed in /stable-diffusion-webui (A1111_DIR); ENV BACKEND tells start.sh
#   CUDA=cu121|cu128      the CUDA base image and torch build: cu121 = CUDA 12.4 runtime with the web UI's own torch
#                         pin (A1111 v1.10.1: torch 2.1.2+cu121; Forge: 2.3.1+cu121); cu128 = CUDA 12.8 runtime with
#                         torch 2.7.0+cu128 (Blackwell, sm_120: RTX 5090, RTX PRO 6000, B200)
#
#   docker build --platform linux/amd64 -t <user>/runpod-worker-a1111-ts:<tag> .                 # a1111, cu121, SDXL baked
#   docker build --platform linux/amd64 --build-arg MODEL_URL= -t <user>/runpod-worker-a1111-ts:<tag>-novolume .
#                                                        # no model: checkpoints come from the network volume
#   docker buildx bake -f docker-bake.json               # the published variants (a1111-cu121, a1111-cu128, forge-cu128)
#
# Stages: build (Node: npm ci, tsc, prune) · model (optional checkpoint) · extension-models (optional ControlNet /
# ADetailer models) · cuda-cu121 / cuda-cu128 (base images) · system (Python, git) · webui-a1111 / webui-forge (the
# web UI at a pinned commit) · runtime (extensions, requirements, Node, worker). Every base image is pinned to an
# exact tag, every git clone to a 40-hex commit; tests/unit/deploy-dockerfile.test.ts lints this file. See
# docs/deploy.md.

# The variant (used in FROM lines below, so declared before the first FROM).
ARG BACKEND=a1111
ARG CUDA=cu121

# ---------------------------------------------------------------------------------------------------------------
# 1. The worker: install, compile, keep production dependencies only.
FROM node:24.11.1-bookworm-slim AS build
WORKDIR /app
ENV NODE_ENV=development
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY handler ./handler
COPY schemas ./schemas
# The local endpoint's docs import test_input.json as their first example; the playground page is compiled by its
# own tsconfig into dist/playground (npm run build).
COPY test_input.json ./
COPY playground ./playground
# tsc copies schemas/*.json and test_input.json into dist/ (the handler imports them), so dist/ is self-contained.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && test -f dist/handler/main.js && test -f dist/schemas/txt2img.json

# ---------------------------------------------------------------------------------------------------------------
# 2. Optional baked checkpoint (a .safetensors file). Empty MODEL_URL → an empty placeholder: start.sh then reads
#    checkpoints from the network volume (/runpod-volume/models/Stable-diffusion).
FROM alpine:3.20.3 AS model
ARG MODEL_URL=https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors
# Optional: the file's SHA-256; the build fails when the download does not match.
ARG MODEL_SHA256=
RUN apk add --no-cache curl \
 && if [ -n "$MODEL_URL" ]; then \
      curl -fL --retry 5 --retry-delay 5 --retry-all-errors -o /model.safetensors "$MODEL_URL" \
      && if [ -n "$MODEL_SHA256" ]; then echo "$MODEL_SHA256  /model.safetensors" | sha256sum -c -; fi \
      && test -s /model.safetensors; \
    else \
      : > /model.safetensors; \
    fi

# ---------------------------------------------------------------------------------------------------------------
# 3. Optional extension models, baked into the image's model folders (empty by default: the network volume's
#    /runpod-volume/models/ControlNet and /runpod-volume/models/adetailer hold them). Space-separated URLs; each file
#    keeps the last segment of its URL (query string dropped) as its name.
FROM alpine:3.20.3 AS extension-models
ARG CONTROLNET_MODELS=
ARG ADETAILER_MODELS=
RUN apk add --no-cache curl \
 && mkdir -p /models/ControlNet /models/adetailer \
 && fetch() { dir="$1"; shift; for url in "$@"; do \
      name="${url%%\?*}"; name="${name##*/}"; \
      [ -n "$name" ] || { echo "no file name in $url" >&2; exit 1; }; \
      curl -fL --retry 5 --retry-delay 5 --retry-all-errors -o "$dir/$name" "$url" && test -s "$dir/$name" || exit 1; \
    done; } \
 && fetch /models/ControlNet $CONTROLNET_MODELS \
 && fetch /models/adetailer $ADETAILER_MODELS \
 && ls -la /models/ControlNet /models/adetailer

# ---------------------------------------------------------------------------------------------------------------
# 4. CUDA base images, one per CUDA variant (FROM cuda-${CUDA} below picks one; BuildKit builds only that one).
#    cu121: torch as the web UI pins it (A1111 v1.10.1 launch_utils: torch==2.1.2 torchvision==0.16.2 from the cu121
#    index; Forge: torch==2.3.1 torchvision==0.18.1, cu121). The CUDA 12.4 runtime image is what this worker shipped
#    before (torch wheels bring their own CUDA libraries; the image's CUDA version sets the driver it asks for).
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 AS cuda-cu121

#    cu128: torch 2.7.0 + torchvision 0.22.0 built for CUDA 12.8, the first stable torch with Blackwell (sm_120)
#    kernels (PyTorch 2.7 release notes); the pin A1111's dev branch took for RTX 50 GPUs (A1111 PR #16972,
#    "PyTorch 2.7.0 xFormers 0.0.30"). Needs a host driver >= 570 (CUDA 12.8).
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04 AS cuda-cu128
ENV TORCH_COMMAND="pip install torch==2.7.0 torchvision==0.22.0 --extra-index-url https://download.pytorch.org/whl/cu128"

# ---------------------------------------------------------------------------------------------------------------
# 5. System packages: Python 3.10 (what A1111 v1.10.1 and Forge expect), git, tini, the libraries OpenCV needs.
FROM cuda-${CUDA} AS system

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_PREFER_BINARY=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NODE_ENV=production

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3.10 python3.10-venv git ca-certificates tini \
      libgl1 libglib2.0-0 libtcmalloc-minimal4 fonts-dejavu-core procps \
 && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------------------------------------------------------
# 6. The web UI, one stage per backend (FROM webui-${BACKEND} below picks one), both at /stable-diffusion-webui.
#    A1111 v1.10.1 (tag v1.10.1 = 82a973c). Its default Stable Diffusion repository (Stability-AI/stablediffusion)
#    is gone (A1111 #17204), so launch.py's prepare step is pointed at the maintained fork, at the commit v1.10.1
#    expects.
FROM system AS webui-a1111
ARG A1111_COMMIT=82a973c04367123ae98bd9abdf80d9eda9b910e2
ENV STABLE_DIFFUSION_REPO=https://github.com/w-e-w/stablediffusion.git \
    STABLE_DIFFUSION_COMMIT_HASH=f16630a927e00098b524d687640719e4eb469b76
RUN git clone https://github.com/AUTOMATIC1111/stable-diffusion-webui.git /stable-diffusion-webui \
 && git -C /stable-diffusion-webui checkout "$A1111_COMMIT"

#    Forge (lllyasviel/stable-diffusion-webui-forge main, 2025-06-26 "Fix SD upscale Batch count (#2950)"). It does
#    not clone the Stability-AI repository (its launch_utils has that line commented out) and ships ControlNet
#    built in (extensions-builtin/sd_forge_controlnet, which serves /controlnet/model_list and the other routes).
FROM system AS webui-forge
ARG FORGE_COMMIT=dfdcbab685e57677014f05a3309b48cc87383167
RUN git clone https://github.com/lllyasviel/stable-diffusion-webui-forge.git /stable-diffusion-webui \
 && git -C /stable-diffusion-webui checkout "$FORGE_COMMIT"

# ---------------------------------------------------------------------------------------------------------------
# 7. Runtime: the chosen web UI, its extensions, every Python requirement installed at build time (the container
#    starts the web UI with --skip-install: nothing is installed or downloaded at start).
FROM webui-${BACKEND} AS runtime
ARG BACKEND
# sd-webui-controlnet v1.1.455+ (main, 2024-07-25 "fix version parsing (#3016)"): A1111 only (Forge has it built in).
ARG CONTROLNET_COMMIT=56cec5b2958edf3b1807b7e7b2b1b5186dbd2f81
# ADetailer v25.3.0 (2025-03-10, "Merge branch 'dev'").
ARG ADETAILER_COMMIT=36189cbea735b85fd01e98ac42002b8ce6f0e41d
# ADetailer's default detection models (adetailer/common.py get_models): fetched from Hugging Face into the image's
# HF cache at build time, so ADetailer finds them offline (with --ad-no-huggingface it never asks the network).
# Empty: none baked (ADetailer then downloads them at start unless --ad-no-huggingface).
ARG ADETAILER_HF_MODELS="face_yolov8n.pt face_yolov8s.pt hand_yolov8n.pt person_yolov8n-seg.pt person_yolov8s-seg.pt yolov8x-worldv2.pt"
ENV BACKEND=${BACKEND} \
    A1111_DIR=/stable-diffusion-webui
WORKDIR /stable-diffusion-webui

# Extensions in $A1111_DIR/extensions/<name>, each at its pinned commit.
RUN case "$BACKEND" in a1111|forge) ;; *) echo "BACKEND=$BACKEND: allowed a1111 or forge" >&2; exit 1 ;; esac \
 && if [ "$BACKEND" = a1111 ]; then \
      git clone https://github.com/Mikubill/sd-webui-controlnet.git extensions/sd-webui-controlnet \
      && git -C extensions/sd-webui-controlnet checkout "$CONTROLNET_COMMIT"; \
    else \
      test -d extensions-builtin/sd_forge_controlnet; \
    fi \
 && git clone https://github.com/Bing-su/adetailer.git extensions/adetailer \
 && git -C extensions/adetailer checkout "$ADETAILER_COMMIT"

# Python requirements at build time. launch.py installs torch (TORCH_COMMAND of the CUDA stage, else the web UI's
# own pin), the requirements, clones its repositories and runs each extension's install.py (ControlNet's
# requirements.txt, ADetailer's ultralytics + mediapipe), then stops (--exit); no GPU is needed for that
# (--skip-torch-cuda-test). The pip constraints apply to every pip call below it, the extension installers' too:
# setuptools 82 removed pkg_resources, which breaks building CLIP's source archive in pip's isolated build
# environment (A1111 #17284, #17398) and ControlNet's install.py imports it; ultralytics and mediapipe are pinned to
# the lowest versions ADetailer v25.3.0's install.py accepts (ultralytics>=8.3.75, mediapipe 0.10.13-0.10.15) so a
# rebuild gets the same packages.
RUN python3.10 -m venv venv \
 && venv/bin/python -m pip install pip==24.0 \
 && printf '%s\n' 'setuptools==69.5.1' 'ultralytics==8.3.75' 'mediapipe==0.10.14' > /tmp/pip-constraints.txt \
 && PIP_CONSTRAINT=/tmp/pip-constraints.txt venv/bin/python -u launch.py \
      --skip-torch-cuda-test --skip-python-version-check --no-download-sd-model --exit \
 && venv/bin/python -c "import torch, transformers, open_clip, clip; print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
 && venv/bin/python -c "import ultralytics, mediapipe; print('ultralytics', ultralytics.__version__)" \
 && if [ "$BACKEND" = a1111 ]; then venv/bin/python -c "import fvcore, addict, controlnet_aux"; fi \
 && venv/bin/python -c "from transformers import CLIPTokenizer, CLIPTextConfig; CLIPTokenizer.from_pretrained('openai/clip-vit-large-patch14'); CLIPTextConfig.from_pretrained('openai/clip-vit-large-patch14')" \
 && for f in $ADETAILER_HF_MODELS; do \
      case "$f" in *-world*) repo=Bingsu/yolo-world-mirror ;; *) repo=Bingsu/adetailer ;; esac; \
      venv/bin/python -c "import sys; from huggingface_hub import hf_hub_download; print(hf_hub_download(sys.argv[1], sys.argv[2]))" "$repo" "$f" || exit 1; \
    done \
 && rm -f /tmp/pip-constraints.txt \
 && rm -rf /root/.cache/pip

# The extension model folders inside the image (A1111's models/ControlNet and models/adetailer, which both
# extensions read): the baked models, if any. start.sh adds the network volume's /runpod-volume/models/ControlNet
# and /runpod-volume/models/adetailer at run time.
COPY --from=extension-models /models/ControlNet/ /stable-diffusion-webui/models/ControlNet/
COPY --from=extension-models /models/adetailer/ /stable-diffusion-webui/models/adetailer/

# The checkpoint (or the empty placeholder), then Node and the worker (the layers that change most come last).
COPY --from=model /model.safetensors /model.safetensors
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY test_input.json ./test_input.json
COPY docker/start.sh /start.sh
RUN chmod 755 /start.sh && node --version

# tini is PID 1: it forwards SIGTERM to the worker only (which drains its job), and reaps orphans.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["/start.sh"]
