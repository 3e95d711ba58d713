# Build and run openkvs. `docker compose up` (see docker-compose.yml) runs it with Postgres.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/openkvs /usr/local/bin/openkvs
COPY config/openkvs.toml /etc/openkvs/openkvs.toml
VOLUME /var/lib/openkvs
EXPOSE 4567
ENTRYPOINT ["openkvs", "serve", "--config", "/etc/openkvs/openkvs.toml", "--data-dir", "/var/lib/openkvs", "--listen", "0.0.0.0:4567"]
