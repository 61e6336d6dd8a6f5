# syntax=docker/dockerfile:1
# optimizer: multi-stage, slim, non-root. The store lives on the /data volume.
#   docker build -t optimizer .
#   docker run --rm -v optimizer-data:/data optimizer demo
#   docker run --rm -v optimizer-data:/data optimizer status
#   docker build --build-arg EXTRAS="postgres,aws,azure,gcp" -t optimizer .   # with the cloud SDKs
#   docker run -d -p 9464:9464 -v optimizer-data:/data optimizer --config optimizer.toml daemon

FROM python:3.11-slim AS build
ARG EXTRAS="postgres"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY optimizer ./optimizer
COPY collectors ./collectors
COPY store ./store
COPY forecasts ./forecasts
COPY placement ./placement
COPY policies ./policies
RUN python -m venv /opt/optimizer \
 && /opt/optimizer/bin/pip install ".[${EXTRAS}]"

FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="optimizer" \
      org.opencontainers.image.description="Cross-cloud cost optimizer and workload placement daemon"
RUN groupadd --system --gid 10001 optimizer \
 && useradd --system --uid 10001 --gid optimizer --home-dir /data --shell /usr/sbin/nologin optimizer \
 && mkdir -p /data \
 && chown optimizer:optimizer /data
COPY --from=build /opt/optimizer /opt/optimizer
ENV PATH="/opt/optimizer/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPTIMIZER_DB_URL="sqlite:////data/optimizer.db" \
    XDG_DATA_HOME=/data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# `optimizer daemon` serves Prometheus metrics here ([daemon] metrics_port).
EXPOSE 9464
ENTRYPOINT ["optimizer"]
CMD ["--help"]
