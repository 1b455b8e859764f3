# tensorfleet-runtime, GPU image. @tensorflow/tfjs-node-gpu 4.22.0 downloads
# libtensorflow 2.9.1 (GPU) at install time, which was built with:
#   CUDA 11.2, cuDNN 8.1 (build_info of the tensorflow-gpu 2.9.1 wheel: CUDA
#   11.2, cuDNN 8; TensorFlow's tested build configurations: cuDNN 8.1),
#   GPU code sm_35, sm_50, sm_60, sm_70, sm_75 + compute_80 PTX (Ampere and
#   newer, H100 included, run PTX the driver compiles at first use).
# Host driver: >= 460.32.03 (CUDA 11.2.2's), or >= 450.80.02 through CUDA 11
# minor-version compatibility; any newer driver works.
# Hence the base: CUDA 11.2.2 + cuDNN 8. Not built or run on a GPU here (no
# Docker engine, no GPU): see docs/runtime.md#gpu-requirements.
# `--backend auto` picks tensorflow-gpu when a GPU is visible
# (runtimeClassName: nvidia, nvidia.com/gpu requests), else falls back.
# Build from the repository root:
#   docker build -f docker/runtime-gpu.Dockerfile -t tensorfleet-runtime:gpu .
# `npm run images` does not build this one (no CUDA base image can be made or
# tested here); see docs/images.md.

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS node

FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
LABEL dev.tensorfleet.libtensorflow="2.9.1" \
      dev.tensorfleet.cuda="11.2" \
      dev.tensorfleet.cudnn="8.1" \
      dev.tensorfleet.min-driver="450.80.02"
ENV NODE_ENV=production
# Node 22 (LTS) from the official image (needs glibc >= 2.28; Ubuntu 20.04 has 2.31).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home node
WORKDIR /app
COPY package.json package-lock.json ./
# The image installs built output: drop the build-on-install hook before any install.
RUN npm pkg delete scripts.prepare
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm install --omit=dev --no-save --no-audit --no-fund @tensorflow/tfjs-node-gpu@4.22.0 \
 && npm cache clean --force
COPY bin ./bin
COPY --from=build /src/dist ./dist
RUN ln -s /app/bin/tensorfleet-runtime.js /usr/local/bin/tensorfleet-runtime
USER node
EXPOSE 8501
ENTRYPOINT ["tensorfleet-runtime"]
CMD ["serve"]
