# syntax=docker/dockerfile:1
# stageline worker image. Build: docker build -t stageline .   Run: docker run --env-file worker.env stageline
# Node 24 (LTS) on Debian slim; ffmpeg and tini come from Debian.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: compile TypeScript to dist/ with the dev dependencies -------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off here: `prepare` would compile before the sources are copied; the build runs below instead.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies, compiled code, Debian's ffmpeg --------------------------------
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# MALLOC_MMAP_THRESHOLD_: glibc serves allocations of 128 KiB and more (stream chunks, CSV blocks,
# upload parts) with mmap, returned to the system when freed, instead of from arenas that keep them:
# bench:csv-e2e measured the worker's peak 20-40 MB lower and ~90 MB less held after a stage.
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=131072 \
    FFMPEG_PATH=/usr/bin/ffmpeg \
    FFPROBE_PATH=/usr/bin/ffprobe \
    HTTP_PORT=8080
COPY package.json package-lock.json ./
# No scripts: nothing to compile, and the bundled ffmpeg's chmod is moot with Debian's on FFMPEG_PATH.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The dashboard's page (`stageline dashboard`); its libraries come from node_modules.
COPY web ./web
RUN chmod 0755 bin/stageline.js && ln -s /app/bin/stageline.js /usr/local/bin/stageline
# The image's `node` user (uid 1000); the app files stay root-owned and read-only to it.
USER node
EXPOSE 8080
# For docker and compose; ECS uses the task definition's healthCheck (the same command).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["stageline", "healthcheck"]
# tini forwards SIGTERM to Node and reaps ffmpeg children. `-s` (subreaper) keeps that true when ECS's
# initProcessEnabled or `docker run --init` puts another init in front of it as PID 1.
ENTRYPOINT ["/usr/bin/tini", "-s", "--"]
CMD ["stageline", "worker"]
