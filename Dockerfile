# Image of the StreamRec services (worker, metrics sidecar, CLI).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY consumers ./consumers
COPY producers ./producers
RUN pip install --no-cache-dir -e .
ENV HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
CMD ["streamrec", "--help"]
