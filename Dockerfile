# perfpulse image for the production shape (infra/compose.yaml). Stages are chosen by command:
# `perfpulse worker`, `perfpulse sink`, `perfpulse notifier`, `perfpulse api --no-sink`, `perfpulse migrate`.
# Every package is copied and installed with the `server` extra, so every command runs in it
# (tests/perfpulse/test_install.py checks both against the packages of the repository).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY ingest ingest
COPY stream stream
COPY storage storage
COPY alerting alerting
COPY api api
COPY perfpulse perfpulse
COPY infra infra
RUN pip install --no-cache-dir '.[server]'
ENV PERFPULSE_LOG_FORMAT=json
ENTRYPOINT ["perfpulse"]
