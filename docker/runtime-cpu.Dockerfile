# tensorfleet-runtime, CPU image, on Node.js 22 (LTS). Backends: tensorflow
# (@tensorflow/tfjs-node, native libtensorflow), wasm and cpu; `--backend auto`
# picks tensorflow. Runs `tensorfleet-runtime serve` as the user node (1000) on
# port 8501.
# Build from the repository root:
#   docker build -f docker/runtime-cpu.Dockerfile -t tensorfleet-runtime:cpu .
# It needs the npm registry, PyPI and Debian's archive while building (the
# tensorflow-cpu wheel is about 215 MB). Behind a registry mirror or a
# TLS-inspecting proxy, hand npm and pip their settings as build secrets, which
# no layer keeps, and a CA bundle as the secret cacert (/run/secrets/cacert,
# where those settings then point: cafile= for npm, cert = for pip):
#   docker build --secret id=npmrc,src=$HOME/.npmrc --secret id=pipconf,src=/etc/pip.conf \
#     --secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt -f docker/runtime-cpu.Dockerfile ...
# Without Docker, `npm run images` (tools/images/build.sh) builds this file with
# buildah, on a base image it makes from Debian packages and the npm registry
# (docs/images.md): it passes NODE_IMAGE below.

# The public image by default; the contract this file relies on: Debian
# bookworm with apt, node, npm and Node's headers (include/node) in /usr/local,
# and the user node (1000).
ARG NODE_IMAGE=node:22-bookworm-slim

# Compile TypeScript with the dev dependencies. Kept identical to the build
# stage of operator.Dockerfile, so that a layer cache builds it once.
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

# The native backend, @tensorflow/tfjs-node. It is optional in package.json and
# its install script downloads libtensorflow from a bucket; instead,
# tools/native/setup.sh (as `npm run setup:native` does for development) takes
# libtensorflow from PyPI's tensorflow-cpu wheel and builds the addon from
# source against this image's Node headers. The stage ends with /out holding
# only what that adds to the production node_modules, for a layer of its own.
FROM ${NODE_IMAGE} AS native
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
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
# The cache mount keeps the wheel, libtensorflow and the built addon between
# builds (the script's own cache); --copy-deps puts real files in the layer.
# (Not at the script's default ~/.cache/tensorfleet: buildah 1.28 empties the
# whole container when a cache mount's target is a prefix of its own storage
# path, which `npm run images` keeps in ~/.cache/tensorfleet/images. And no
# sharing=locked: after a step with two locked cache mounts, buildah 1.28 hangs
# on the next step that locks one of them; npm's cache and setup.sh's take
# concurrent use.)
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=pipconf,target=/etc/pip.conf \
    --mount=type=secret,id=cacert \
    --mount=type=cache,id=tensorfleet-npm,target=/root/.npm \
    --mount=type=cache,id=tensorfleet-native,target=/var/cache/tensorfleet \
    TENSORFLEET_CACHE=/var/cache/tensorfleet bash tools/native/setup.sh --flavor cpu --copy-deps --skip-saved-models \
 && if [ "$(sed 's#$#package.json#' /tmp/prod-packages | xargs cat | sha256sum)" != "$(cat /tmp/prod-packages.sum)" ]; then \
      echo "installing @tensorflow/tfjs-node changed production packages; its layer would not be a pure addition" >&2; exit 1; \
    fi \
 && ls -d node_modules/[!@]*/ node_modules/@*/*/ | sort | comm -13 /tmp/prod-packages - >/tmp/native-packages \
 && grep -qx 'node_modules/@tensorflow/tfjs-node/' /tmp/native-packages \
 && mkdir /out \
 && xargs -a /tmp/native-packages cp -a --parents -t /out \
 && (cd /out && find node_modules -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >/out/SHA256SUMS

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="tensorfleet-runtime" \
      org.opencontainers.image.description="TensorFlow model server (TF Serving REST, Open Inference Protocol v2) on TensorFlow.js, CPU" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/tensorfleet/tensorfleet"
ENV NODE_ENV=production
WORKDIR /app
RUN ln -s /app/bin/tensorfleet-runtime.js /usr/local/bin/tensorfleet-runtime
# Least to most often changed, so that a code change rebuilds only the last
# layers: production dependencies (the lockfile), the native backend (about
# 700 MB, mostly libtensorflow), then bin/ and dist/. Both large layers come
# from RUN steps rather than COPY --from, because a layer cache re-checks a
# RUN by its text and parent alone but a COPY by copying it all again (buildah
# spends seconds per 100 MB doing so on every build). The image installs built
# output: the build-on-install hook (prepare) is dropped first. npm leaves
# Node's compile cache in /tmp: machine code that differs from build to build.
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=cacert \
    --mount=type=cache,id=tensorfleet-npm,target=/root/.npm \
    npm pkg delete scripts.prepare \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf /tmp/node-compile-cache
# The checksums first: what the native stage produced is then part of the
# next step's parent, so a changed backend is never taken from the cache.
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
