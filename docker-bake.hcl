# The published image variants (README "Deploy"): `docker buildx bake` builds all three, or one by name.
# Tags: ${REGISTRY}/${IMAGE}:${VERSION}-<target>. No checkpoint is baked into published images (MODEL_URL empty):
# models come from the network volume.

variable "REGISTRY" {
  default = "ghcr.io"
}

variable "IMAGE" {
  default = "your-github-user/runpod-worker-a1111-ts"
}

variable "VERSION" {
  default = "0.1.0"
}

variable "MODEL_URL" {
  default = ""
}

group "default" {
  targets = ["a1111-cu121", "a1111-cu128", "forge-cu128"]
}

target "_common" {
  context    = "."
  dockerfile = "Dockerfile"
  target     = "runtime"
  platforms  = ["linux/amd64"]
  args = {
    MODEL_URL = "${MODEL_URL}"
  }
  labels = {
    "org.opencontainers.image.version" = "${VERSION}"
  }
}

# A1111 v1.10.1 with its own torch (CUDA 12.1 wheels): every GPU up to Ada/Hopper.
target "a1111-cu121" {
  inherits = ["_common"]
  args = {
    BACKEND = "a1111"
    CUDA    = "cu121"
  }
  tags = ["${REGISTRY}/${IMAGE}:${VERSION}-a1111-cu121"]
}

# A1111 v1.10.1 with torch 2.7.0 for CUDA 12.8: adds Blackwell (RTX 5090, RTX PRO 6000, B200).
target "a1111-cu128" {
  inherits = ["_common"]
  args = {
    BACKEND = "a1111"
    CUDA    = "cu128"
  }
  tags = ["${REGISTRY}/${IMAGE}:${VERSION}-a1111-cu128"]
}

# Forge (Flux) with torch 2.7.0 for CUDA 12.8.
target "forge-cu128" {
  inherits = ["_common"]
  args = {
    BACKEND = "forge"
    CUDA    = "cu128"
  }
  tags = ["${REGISTRY}/${IMAGE}:${VERSION}-forge-cu128"]
}
