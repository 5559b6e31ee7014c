# perfpulse image for the production shape (infra/compose.yaml). Stages are chosen by command:
# `perfpulse worker`, `perfpulse sink`, `perfpulse api --no-sink`, `perfpulse migrate`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY ingest ingest
COPY stream stream
COPY storage storage
COPY api api
COPY perfpulse perfpulse
COPY infra infra
RUN pip install --no-cache-dir .
ENV PERFPULSE_LOG_FORMAT=json
ENTRYPOINT ["perfpulse"]
