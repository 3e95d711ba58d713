# Build and run openkvs. `docker compose up` (see docker-compose.yml) runs it with Postgres, NATS,
# Prometheus and a sample producer. SIGTERM (docker stop) shuts down gracefully.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/openkvs /usr/local/bin/openkvs
COPY config/openkvs.toml /etc/openkvs/openkvs.toml
# The sample producer of docker-compose.yml loops this file (H.264 640x360, 20 s, 2 s GOP).
COPY tests/fixtures/h264_640x360_20s_2sgop.mkv /usr/share/openkvs/sample.mkv
VOLUME /var/lib/openkvs
EXPOSE 4567
ENTRYPOINT ["openkvs", "serve", "--config", "/etc/openkvs/openkvs.toml", "--data-dir", "/var/lib/openkvs", "--listen", "0.0.0.0:4567"]
