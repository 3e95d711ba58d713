# Build and run openkvs. `docker compose up` (see docker-compose.yml) runs it with Postgres, NATS,
# Prometheus and a sample producer. SIGTERM (docker stop) shuts down gracefully. The build context
# is filtered by .dockerignore (no target/, data/ or node_modules/).
#   docker build -t openkvs .
#   docker run -p 4567:4567 -e OPENKVS_ALLOW_DEV_KEYS=true openkvs
# The sample video (`openkvs sample`) is embedded in the binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/openkvs /usr/local/bin/openkvs
# The configuration the entrypoint reads: the shipped file, i.e. the built-in defaults written out
# (`openkvs serve` without --config uses the same defaults and reads no file). Mount your own over
# it (docker-compose.yml mounts config/openkvs-compose.toml), or set OPENKVS_* variables.
COPY config/openkvs.toml /etc/openkvs/openkvs.toml
VOLUME /var/lib/openkvs
EXPOSE 4567
ENTRYPOINT ["openkvs", "serve", "--config", "/etc/openkvs/openkvs.toml", "--data-dir", "/var/lib/openkvs", "--listen", "0.0.0.0:4567"]
