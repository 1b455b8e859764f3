# tensorfleet-runtime, GPU image, on Node.js 22 (LTS) and Debian bookworm.
# Backend tensorflow-gpu: @tensorflow/tfjs-node-gpu 4.22.0 built from source
# against the GPU build of libtensorflow 2.16.2 (from PyPI's tensorflow wheel:
# CUDA 12.3, cuDNN 8.9; GPU code for sm_50 sm_60 sm_70 sm_80 sm_90 and
# compute_90 PTX, so Hopper runs machine code), with the CUDA 12.3 and cuDNN
# 8.9.7 libraries from NVIDIA's wheels (tools/native/cuda-requirements.txt) in
# /usr/local/cuda-12.3/lib64. No CUDA base image: the libraries are the
# wheels' files, as TensorFlow's own `and-cuda` install uses them.
#
# The driver (libcuda) is the host's, put in the container by the NVIDIA
# container toolkit (runtimeClassName: nvidia, or the GPU Operator's default
# runtime) with the GPU the pod requests. Driver: >= 545.23.08 (CUDA 12.3
# Update 1's); >= 525.60.13 works through CUDA's minor version compatibility
# (every architecture above has machine code, so no PTX JIT is needed), hence
# NVIDIA_REQUIRE_CUDA=cuda>=12.0.
#
# Without a GPU the image serves on the CPU: `--backend tensorflow-gpu` says
# so in its log, its backend metric (device="cpu") and its model metadata, and
# `--backend auto` picks it. Runs `tensorfleet-runtime serve` as the user node
# (1000) on port 8501.
#
# Build from the repository root (PyPI: about 2.2 GB of wheels; npm; Debian):
#   docker build -f docker/runtime-gpu.Dockerfile -t tensorfleet-runtime-gpu .
# Secrets for a registry mirror or a TLS-inspecting proxy as in
# runtime-cpu.Dockerfile. `npm run images` builds this file with buildah as
# tensorfleet/runtime-gpu (docs/images.md); a test keeps the labels below equal
# to what the built image carries.

ARG NODE_IMAGE=node:22-bookworm-slim

# Compile TypeScript: identical to the build stage of the other Dockerfiles,
# so that a layer cache builds it once.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=cacert \
    --mount=type=cache,id=tensorfleet-npm,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# The compilers and Python that the two stages below use.
FROM ${NODE_IMAGE} AS tools
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*

# CUDA and cuDNN, verified against the hashes pinned in the repository.
FROM tools AS cuda
COPY tools/native/cuda.sh tools/native/cuda-requirements.txt /tmp/cuda/
RUN --mount=type=secret,id=pipconf,target=/etc/pip.conf \
    --mount=type=secret,id=cacert \
    bash /tmp/cuda/cuda.sh /out/cuda-12.3

# The native backend, as in runtime-cpu.Dockerfile but the gpu flavor of
# tools/native/setup.sh (libtensorflow from the tensorflow wheel,
# @tensorflow/tfjs-node-gpu); /out holds what it adds to node_modules.
FROM tools AS native
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=cacert \
    --mount=type=cache,id=tensorfleet-npm,target=/root/.npm \
    npm pkg delete scripts.prepare \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && ls -d node_modules/[!@]*/ node_modules/@*/*/ | sort >/tmp/prod-packages \
 && sed 's#$#package.json#' /tmp/prod-packages | xargs cat | sha256sum >/tmp/prod-packages.sum
COPY tools/native ./tools/native
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=pipconf,target=/etc/pip.conf \
    --mount=type=secret,id=cacert \
    --mount=type=cache,id=tensorfleet-npm,target=/root/.npm \
    --mount=type=cache,id=tensorfleet-native,target=/var/cache/tensorfleet \
    TENSORFLEET_CACHE=/var/cache/tensorfleet bash tools/native/setup.sh --flavor gpu --copy-deps --skip-saved-models \
 && if [ "$(sed 's#$#package.json#' /tmp/prod-packages | xargs cat | sha256sum)" != "$(cat /tmp/prod-packages.sum)" ]; then \
      echo "installing @tensorflow/tfjs-node-gpu changed production packages; its layer would not be a pure addition" >&2; exit 1; \
    fi \
 && ls -d node_modules/[!@]*/ node_modules/@*/*/ | sort | comm -13 /tmp/prod-packages - >/tmp/native-packages \
 && grep -qx 'node_modules/@tensorflow/tfjs-node-gpu/' /tmp/native-packages \
 && mkdir /out \
 && xargs -a /tmp/native-packages cp -a --parents -t /out \
 && (cd /out && find node_modules -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >/out/SHA256SUMS

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="tensorfleet-runtime-gpu" \
      org.opencontainers.image.description="TensorFlow model server (TF Serving REST, Open Inference Protocol v2) on TensorFlow.js, NVIDIA GPU (CUDA 12)" \
      org.opencontainers.image.licenses="Apache-2.0 AND LicenseRef-NVIDIA-CUDA" \
      org.opencontainers.image.source="https://github.com/tensorfleet/tensorfleet" \
      dev.tensorfleet.tensorflow="2.16.2" \
      dev.tensorfleet.tfjs-node-gpu="4.22.0" \
      dev.tensorfleet.cuda="12.3" \
      dev.tensorfleet.cudnn="8.9.7" \
      dev.tensorfleet.cuda-archs="sm_50 sm_60 sm_70 sm_80 sm_90 compute_90" \
      dev.tensorfleet.min-driver="525.60.13" \
      dev.tensorfleet.recommended-driver="545.23.08"
# What the NVIDIA container toolkit reads: all GPUs the pod was given, the
# driver's compute libraries and nvidia-smi, and the CUDA the driver must support.
ENV NODE_ENV=production \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    NVIDIA_REQUIRE_CUDA="cuda>=12.0" \
    CUDA_VERSION=12.3
WORKDIR /app
RUN ln -s /app/bin/tensorfleet-runtime.js /usr/local/bin/tensorfleet-runtime
# Least to most often changed, as in runtime-cpu.Dockerfile, with the CUDA
# libraries (about 2.5 GB) first: they change only with the TensorFlow pin.
# The loader finds them through ld.so.conf (a pod's env cannot lose them);
# the toolkit adds the driver's libcuda beside the system's libraries.
# ldconfig's aux-cache records inodes and change times: left out, so that the
# layer is the same bytes from build to build.
COPY --from=cuda /out/cuda-12.3/SHA256SUMS /usr/local/share/tensorfleet/cuda.sha256
RUN --mount=type=bind,from=cuda,source=/out/cuda-12.3,target=/mnt/cuda \
    mkdir -p /usr/local/cuda-12.3 \
 && cp -a /mnt/cuda/lib64 /mnt/cuda/licenses /usr/local/cuda-12.3/ \
 && ln -s cuda-12.3 /usr/local/cuda \
 && echo /usr/local/cuda-12.3/lib64 >/etc/ld.so.conf.d/000-cuda.conf \
 && ldconfig \
 && rm -f /var/cache/ldconfig/aux-cache
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=cacert \
    --mount=type=cache,id=tensorfleet-npm,target=/root/.npm \
    npm pkg delete scripts.prepare \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf /tmp/node-compile-cache
COPY --from=native /out/SHA256SUMS /usr/local/share/tensorfleet/native-backend.sha256
RUN --mount=type=bind,from=native,source=/out/node_modules,target=/mnt/native \
    cp -a /mnt/native/. node_modules/
COPY bin ./bin
# The gRPC services' .proto files, loaded at startup (src/runtime/grpc/protos.ts).
COPY proto ./proto
COPY --from=build /src/dist ./dist
USER node
EXPOSE 8501 8500
ENTRYPOINT ["tensorfleet-runtime"]
CMD ["serve"]
