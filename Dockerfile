# Vigil: TypeScript run directly by Node 24 (type stripping); there is no build step.
FROM node:24-bookworm-slim

WORKDIR /app

# Dependencies first, so that code changes do not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Code is owned by root and read-only to the service user; only the data directory is writable.
COPY . .
RUN mkdir -p /app/data && chown node:node /app/data && chmod 700 /app/data

# In production Vigil refuses an http ISSUER other than http://localhost / http://127.0.0.1.
# Memory (docs/performance.md): a 32 MB young generation whatever the machine's size (V8 sizes it
# from the machine), and glibc returning argon2's 19 MB hashing buffers instead of keeping them per
# thread, mapping them with transparent huge pages (a few faults per password check instead of
# thousands). The old generation's growth is a Vigil setting (VIGIL_HEAP_GROWTH_PERCENT, default 100).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    NODE_OPTIONS=--max-semi-space-size=32 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1

USER node
EXPOSE 3000
# Embedded mode keeps master.key and the PGlite database here (unused with DATABASE_URL).
VOLUME /app/data

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "--disable-warning=ExperimentalWarning", "src/main.ts"]
