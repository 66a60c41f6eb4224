# syntax=docker/dockerfile:1
# Airflow 3 image for news-etl, built from uv.lock (no unpinned installs).
#   docker build -t news-etl-airflow:latest .
FROM python:3.11-slim-bookworm

# uv: same major/minor as the one that wrote uv.lock (lock revision compatibility).
RUN pip install --no-cache-dir "uv==0.13.9"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_CACHE_DIR=/var/cache/uv \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/news-etl/.venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/news-etl/dags

# Airflow convention: uid 50000, primary group 0 so an arbitrary uid with gid 0
# (compose `user: "${AIRFLOW_UID}:0"`) can still write AIRFLOW_HOME.
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --no-create-home --shell /bin/bash airflow \
    && mkdir -p /opt/airflow/logs /opt/news-etl /data/landing /data/warehouse \
    && chown -R 50000:0 /opt/airflow /opt/news-etl /data \
    && chmod -R g+rwX /opt/airflow /data

WORKDIR /opt/news-etl

# Dependencies only (cached until pyproject.toml / uv.lock change).
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/var/cache/uv \
    uv sync --frozen --no-default-groups --no-install-project

# Project code, then install the project itself (editable: pipeline/, sql/, models/
# stay under /opt/news-etl where the DAGs and NEWSETL_MODELS_DIR expect them).
COPY pipeline/ ./pipeline/
COPY dags/ ./dags/
COPY sql/ ./sql/
COPY models/ ./models/
RUN --mount=type=cache,target=/var/cache/uv \
    uv sync --frozen --no-default-groups

USER 50000
# No entrypoint wrapper: compose passes the full command (`airflow scheduler`, ...).
CMD ["airflow", "version"]
