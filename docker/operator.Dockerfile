# tensorfleet-operator image: Node.js 22 (LTS) on distroless (no shell, no
# package manager), running as the non-root user 65532. Build from the
# repository root:
#   docker build -f docker/operator.Dockerfile -t ghcr.io/tensorfleet/operator:0.1.0 .
# Behind a registry mirror or a TLS-inspecting proxy, hand npm its settings as
# a build secret, which no layer keeps, and a CA bundle as the secret cacert
# (/run/secrets/cacert, where the npmrc's cafile= then points):
#   docker build --secret id=npmrc,src=$HOME/.npmrc \
#     --secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt -f docker/operator.Dockerfile ...
# Without Docker, `npm run images` (tools/images/build.sh) builds this file with
# buildah, on base images it makes from Debian packages and the npm registry
# (docs/images.md): it passes NODE_IMAGE and DISTROLESS_IMAGE below.
# The Helm chart runs it with a read-only root filesystem and every capability
# dropped; the process writes nothing to disk.

# The public images by default; the contracts this file relies on: node and npm
# in /usr/local/bin (NODE_IMAGE), /nodejs/bin/node and user 65532 with no shell
# (DISTROLESS_IMAGE).
ARG NODE_IMAGE=node:22-bookworm-slim
ARG DISTROLESS_IMAGE=gcr.io/distroless/nodejs22-debian12:nonroot

# Compile TypeScript with the dev dependencies. Kept identical to the build
# stage of runtime-cpu.Dockerfile, so that a layer cache builds it once.
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

# Production dependencies only. The image installs built output, so the
# build-on-install hook (prepare) is dropped before installing. TensorFlow.js
# belongs to the runtime: the operator imports none of it (a unit test walks
# its imports), and removing it takes node_modules from ~400 MB to ~120 MB.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=cacert \
    --mount=type=cache,id=tensorfleet-npm,target=/root/.npm \
    npm pkg delete scripts.prepare \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@tensorflow

FROM ${DISTROLESS_IMAGE}
LABEL org.opencontainers.image.title="tensorfleet-operator" \
      org.opencontainers.image.description="Kubernetes operator serving TensorFlow models from ModelDeployment resources" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/tensorfleet/tensorfleet"
ENV NODE_ENV=production
WORKDIR /app
# Least to most often changed, so that a code change rebuilds only the last
# layers: dependencies (the lockfile), then package.json, bin/ and dist/.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/package.json ./package.json
COPY bin ./bin
COPY --from=build /src/dist ./dist
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "dist/operator/main.js"]
