# The production image of assetsync: `serve` built without the sandbox feature, run as a non-root user, the
# SQLite database (and the key file that seals stored secrets) on the volume /var/lib/assetsync.
#
#   docker build -t assetsync .
#   docker run -d --name assetsync -p 8080:8080 -v assetsync-data:/var/lib/assetsync \
#     -v /etc/assetsync/assetsync.toml:/etc/assetsync/assetsync.toml:ro assetsync
#
# The configuration must listen on 0.0.0.0:8080 (and [metrics] listen on 0.0.0.0:9464 to be scraped from
# outside the container) and keep its database at sqlite:///var/lib/assetsync/assetsync.db. See README.md,
# "Running in production".

# The slim Rust image has gcc and libc6-dev: enough for the bundled SQLite and aws-lc-sys (built with cc).
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p assetsync --no-default-features \
    && cp target/release/assetsync /usr/local/bin/assetsync

FROM debian:bookworm-slim
# ca-certificates: AEM, IMS, I/O Events and Adobe Commerce are reached over https.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 assetsync \
    && useradd --system --uid 10001 --gid assetsync --home-dir /var/lib/assetsync --no-create-home \
       --shell /usr/sbin/nologin assetsync \
    && mkdir -p /var/lib/assetsync /etc/assetsync \
    && chown assetsync:assetsync /var/lib/assetsync
COPY --from=builder /usr/local/bin/assetsync /usr/local/bin/assetsync
USER 10001:10001
WORKDIR /var/lib/assetsync
VOLUME ["/var/lib/assetsync"]
# 8080: webhook, admin and read API, /healthz. 9464: /metrics.
EXPOSE 8080 9464
# Slim images have no curl: the binary checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["assetsync", "healthcheck", "--url", "http://127.0.0.1:8080/healthz", "--timeout-seconds", "4"]
# SIGTERM (docker stop) drains in-flight requests and stops the workers; allow it 10 s (the default).
STOPSIGNAL SIGTERM
ENTRYPOINT ["assetsync"]
CMD ["serve", "--config", "/etc/assetsync/assetsync.toml"]
