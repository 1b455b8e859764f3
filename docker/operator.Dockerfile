# tensorfleet-operator image: Node.js 20 on distroless (no shell, no package
# manager), running as the non-root user 65532. Build from the repository root:
#   docker build -f docker/operator.Dockerfile -t ghcr.io/tensorfleet/operator:0.1.0 .
# The Helm chart runs it with a read-only root filesystem and every capability
# dropped; the process writes nothing to disk.

# Compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only. The image installs built output, so the
# build-on-install hook (prepare) is dropped before installing. TensorFlow.js
# belongs to the runtime: the operator imports none of it (a unit test walks
# its imports), and removing it takes node_modules from ~400 MB to ~120 MB.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm pkg delete scripts.prepare \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@tensorflow \
 && npm cache clean --force

FROM gcr.io/distroless/nodejs20-debian12:nonroot
LABEL org.opencontainers.image.title="tensorfleet-operator" \
      org.opencontainers.image.description="Kubernetes operator serving TensorFlow models from ModelDeployment resources" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/tensorfleet/tensorfleet"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "dist/operator/main.js"]
