"""Structured logs and Prometheus metrics shared by the services."""

from __future__ import annotations

import json
import logging
import sys
import time

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from streamrec.core.settings import mask_url

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_url(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler.setFormatter(JsonFormatter() if json_lines else plain)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("kafka", "sentence_transformers", "transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve_metrics(port: int) -> None:
    """Expose ``/metrics`` on ``port`` (0 disables it)."""
    if port:
        start_http_server(port, addr="127.0.0.1")


EVENTS = Counter("streamrec_events_total", "Events processed", ["type"])
DEAD_LETTERS = Counter("streamrec_dead_letters_total", "Messages sent to the dead-letter topic")
DUPLICATES = Counter("streamrec_duplicates_total", "Redelivered events dropped by the dedup window")
BATCH_SECONDS = Histogram("streamrec_batch_seconds", "Wall time of one micro-batch")
EMBED_SECONDS = Histogram("streamrec_embed_seconds", "Model time of one micro-batch")
REDIS_SECONDS = Histogram("streamrec_redis_write_seconds", "Redis write time of one micro-batch")
REDIS_RETRIES = Counter("streamrec_redis_retries_total", "Redis operations retried")
FRESHNESS = Histogram(
    "streamrec_freshness_seconds",
    "Produce time to recs in Redis (live events)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
CHECKPOINTS = Counter("streamrec_checkpoints_total", "Checkpoints written")
CHECKPOINTS_PUT_OFF = Counter(
    "streamrec_checkpoints_put_off_total",
    "Checkpoints put off to the next batch while another worker of the group wrote its own",
)
CHECKPOINT_WAIT = Gauge(
    "streamrec_checkpoint_wait_seconds",
    "Wait after the last checkpoint until the next is due (stretched while writes are slow)",
)
LAG = Gauge(
    "streamrec_consumer_lag", "Messages behind the end of the partition", ["topic", "partition"]
)
CLUSTERS = Gauge("streamrec_clusters", "Clusters alive")
USERS = Gauge("streamrec_users", "Users with a profile")
DRIFT = Counter(
    "streamrec_drift_alarms_total", "ADWIN alarms on the distance of reviews to their centroid"
)
DRIFT_DISTANCE = Gauge(
    "streamrec_drift_mean_distance",
    "ADWIN's current mean cosine distance of reviews to their centroid",
)


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start
