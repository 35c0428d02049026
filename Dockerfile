# syntax=docker/dockerfile:1
# The exporter's container image (docs/deploy.md, "Container image"). Checked by
# tests/e2e/deploy_image.rs: hadolint, the structure below, and the release binary run in a root
# file system made of the runtime image's Debian packages.
#
# Both base images are pinned by tag and digest. The digests were read from public Dockerfiles
# that pin the same tags (no registry is reachable where this file was written); refresh them
# with `crane digest <image:tag>` or `docker buildx imagetools inspect <image:tag>`.

# Builder: Rust 1.95.0 on Debian 12 (bookworm), the glibc (2.36) of the runtime image.
FROM rust:1.95.0-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS builder

# librdkafka is compiled from source (rdkafka-sys): a C toolchain, pkg-config, OpenSSL's
# headers (libssl3 stays a shared library: the runtime image ships it) and python3 for its
# configure script. zlib and libcurl are compiled in from the crates' bundled sources (feature
# static-deps), so their -dev packages are deliberately absent. The versions are those of the
# digest-pinned image's Debian snapshot, hence no per-package pins.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config libssl-dev python3 \
    && rm -rf /var/lib/apt/lists/*

# The slim exporter (README "Running it") by default; CARGO_FEATURES=sim,static-deps adds the
# `demo` and `sim` subcommands (the Compose stack's demo profile builds it so).
ARG CARGO_FEATURES=static-deps
WORKDIR /src
COPY . .
RUN cargo build --release --locked --no-default-features --features "${CARGO_FEATURES}" \
        --bin cluster-link-exporter

# Runtime: glibc, libgcc_s, libstdc++, libssl3, CA certificates, tzdata; no shell. The
# `nonroot` variant's user is 65532:65532.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cluster-link-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Confluent Cluster Linking: link and mirror-topic state and lag from the REST API v3, measured over the Kafka protocol" \
      org.opencontainers.image.source="https://github.com/cluster-link-exporter/cluster-link-exporter" \
      org.opencontainers.image.url="https://github.com/cluster-link-exporter/cluster-link-exporter" \
      org.opencontainers.image.documentation="https://github.com/cluster-link-exporter/cluster-link-exporter/blob/main/docs/deploy.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

COPY --from=builder /src/target/release/cluster-link-exporter /usr/local/bin/cluster-link-exporter
COPY LICENSE /usr/share/doc/cluster-link-exporter/LICENSE

USER 65532:65532
# The default --web.listen-address (src/main.rs DEFAULT_LISTEN).
EXPOSE 9849
# No HEALTHCHECK: there is no shell or HTTP client in the image; orchestrators probe
# /-/healthy and /-/ready instead.
ENTRYPOINT ["/usr/local/bin/cluster-link-exporter"]
# Mount the configuration here, or give other arguments (e.g. `demo`, `check-config --config=…`).
CMD ["--config=/etc/cluster-link-exporter/config.yaml"]
