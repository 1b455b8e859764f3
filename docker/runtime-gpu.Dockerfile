# tensorfleet-runtime, GPU image: @tensorflow/tfjs-node-gpu 4.22 uses
# libtensorflow 2.9.1, built against CUDA 11.2 and cuDNN 8.1, so the base is
# CUDA 11.2 + cuDNN 8. `--backend auto` picks tensorflow-gpu when a GPU is
# visible (runtimeClassName: nvidia, nvidia.com/gpu requests), else falls back.
# Build from the repository root:
#   docker build -f docker/runtime-gpu.Dockerfile -t tensorfleet-runtime:gpu .

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS node

FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
ENV NODE_ENV=production
# Node 20 from the official image (needs glibc >= 2.28; Ubuntu 20.04 has 2.31).
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
