# tensorfleet-runtime, CPU image. Backends: tensorflow (@tensorflow/tfjs-node,
# native libtensorflow), wasm and cpu; `--backend auto` picks tensorflow.
# Build from the repository root:
#   docker build -f docker/runtime-cpu.Dockerfile -t tensorfleet-runtime:cpu .

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The image installs built output: drop the build-on-install hook before any install.
RUN npm pkg delete scripts.prepare
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 # The native backend is optional in package.json (its install downloads
 # libtensorflow); the image has network access at build time, so add it here.
 && npm install --omit=dev --no-save --no-audit --no-fund @tensorflow/tfjs-node@4.22.0 \
 && npm cache clean --force
COPY bin ./bin
COPY --from=build /src/dist ./dist
RUN ln -s /app/bin/tensorfleet-runtime.js /usr/local/bin/tensorfleet-runtime
USER node
EXPOSE 8501
ENTRYPOINT ["tensorfleet-runtime"]
CMD ["serve"]
