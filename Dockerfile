# syntax=docker/dockerfile:1
# crm-media-server in a container. The image is built from the steps the test suite runs (test/package): `npm pack`,
# then scripts/install-tarball.mjs, which installs the tarball with exactly its pinned dependency tree and builds
# better-sqlite3 for the image's Node. Nothing of the repository but the installed package reaches the final image.
#
#   docker build -t crm-media-server .
#   docker run --rm -p 8787:8787 -v crm-media-data:/data crm-media-server                     # persistent, SQLite + disk
#   docker run --rm -p 8787:8787 crm-media-server serve --in-memory --expose-dev-credentials   # for tests

ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm AS pack
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts off: packing needs the compiler (typescript), not the native module.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json README.md ./
COPY scripts ./scripts
COPY src ./src
RUN mkdir /out && npm pack --pack-destination /out && mv /out/crm-media-server-*.tgz /out/crm-media-server.tgz

FROM node:${NODE_VERSION}-bookworm AS install
COPY --from=pack /out/crm-media-server.tgz /tmp/crm-media-server.tgz
COPY scripts/install-tarball.mjs /tmp/install-tarball.mjs
# The full image has python3, make and g++ for better-sqlite3's build.
RUN node /tmp/install-tarball.mjs /tmp/crm-media-server.tgz /opt/crm-media && rm /opt/crm-media/crm-media-server.tgz

FROM node:${NODE_VERSION}-bookworm-slim
COPY --from=install /opt/crm-media /opt/crm-media
RUN ln -s /opt/crm-media/node_modules/.bin/crm-media /usr/local/bin/crm-media \
 && ln -s /opt/crm-media/node_modules/.bin/crm-media-server /usr/local/bin/crm-media-server \
 && mkdir /data && chown node:node /data
USER node
WORKDIR /data
ENV CRM_MEDIA_HOST=0.0.0.0 \
    CRM_MEDIA_PORT=8787 \
    CRM_MEDIA_DATA=/data \
    CRM_MEDIA_LOG_FORMAT=json \
    NODE_ENV=production
VOLUME ["/data"]
EXPOSE 8787
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.CRM_MEDIA_PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["crm-media"]
CMD ["serve"]
