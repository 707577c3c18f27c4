# RunPod serverless worker image: AUTOMATIC1111 v1.10.1 (headless API on 127.0.0.1:3000) + the TypeScript worker.
#
#   docker build --platform linux/amd64 -t <user>/runpod-worker-a1111-ts:<tag> .                 # SDXL base baked in
#   docker build --platform linux/amd64 --build-arg MODEL_URL= -t <user>/runpod-worker-a1111-ts:<tag>-novolume .
#                                                        # no model: checkpoints come from the network volume
#
# Stages: build (Node: npm ci, tsc, prune) · model (optional checkpoint download) · runtime (CUDA + Python + A1111
# + Node + worker). Every base image is pinned to an exact tag; tests/unit/deploy-dockerfile.test.ts lints this file.
# See docs/deploy.md.

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
# tsc copies schemas/*.json into dist/schemas (the handler imports them), so dist/ is self-contained.
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
# 3. Runtime: CUDA runtime + Python 3.10 + A1111 v1.10.1 with its requirements installed at build time.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 AS runtime

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

# A1111 v1.10.1, pinned by commit. Its default Stable Diffusion repository (Stability-AI/stablediffusion) is gone
# (A1111 #17204), so launch.py's prepare step is pointed at the maintained fork, at the commit v1.10.1 expects.
ENV A1111_DIR=/stable-diffusion-webui \
    STABLE_DIFFUSION_REPO=https://github.com/w-e-w/stablediffusion.git \
    STABLE_DIFFUSION_COMMIT_HASH=f16630a927e00098b524d687640719e4eb469b76
RUN git clone https://github.com/AUTOMATIC1111/stable-diffusion-webui.git /stable-diffusion-webui \
 && cd /stable-diffusion-webui \
 && git checkout 82a973c04367123ae98bd9abdf80d9eda9b910e2

# Python requirements at build time (the container starts A1111 with --skip-install). launch.py installs torch, the
# requirements and clones its repositories, then stops (--exit); no GPU is needed for that (--skip-torch-cuda-test).
# setuptools 82 removed pkg_resources, which breaks building CLIP's source archive in pip's isolated build
# environment (A1111 #17284, #17398): the constraint keeps the setuptools v1.10.1 pins (69.5.1) there too.
WORKDIR /stable-diffusion-webui
RUN python3.10 -m venv venv \
 && venv/bin/python -m pip install pip==24.0 \
 && echo 'setuptools==69.5.1' > /tmp/pip-constraints.txt \
 && PIP_CONSTRAINT=/tmp/pip-constraints.txt venv/bin/python -u launch.py \
      --skip-torch-cuda-test --skip-python-version-check --no-download-sd-model --exit \
 && venv/bin/python -c "import torch, transformers, open_clip, clip; print('torch', torch.__version__)" \
 && venv/bin/python -c "from transformers import CLIPTokenizer, CLIPTextConfig; CLIPTokenizer.from_pretrained('openai/clip-vit-large-patch14'); CLIPTextConfig.from_pretrained('openai/clip-vit-large-patch14')" \
 && rm -f /tmp/pip-constraints.txt \
 && rm -rf /root/.cache/pip

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
