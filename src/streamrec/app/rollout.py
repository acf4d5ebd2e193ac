"""Rolling out a new encoder: a fresh worker group replays the topics into a
fresh Redis prefix, and readers switch to it once it has caught up.

A new model changes the vector space: profiles, item vectors and centroids of
the old one cannot be mixed with the new one's, so nothing is migrated. The new
group (``{worker_group}-{version}``) starts from the topics' retention start
(a new consumer group reads from the earliest offset) and writes under
``{redis_prefix}-{version}``; when every partition is consumed to its end, one
``SET`` of the active-model pointer (:mod:`streamrec.serving.active`) moves all
readers at once. The old prefix stays as it was (readers that resolved it just
before the switch finish their answer from it); delete it when its worker group
is stopped.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from streamrec.app.worker import EmbedWorker
from streamrec.core.settings import Settings
from streamrec.embedding.base import Embedder
from streamrec.embedding.factory import embedder_from_settings
from streamrec.serving.active import ActiveModel, read_active, switch_active
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import connect

VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RolloutError(ValueError):
    """A rollout that must not start (bad version name, prefix already in use)."""


@dataclass
class RolloutResult:
    active: ActiveModel
    previous: ActiveModel | None
    events: int
    catch_up_s: float


def version_settings(settings: Settings, model: str, version: str) -> Settings:
    """The settings of the new version's worker group: same topics, new model,
    group and prefix."""
    if not VERSION.match(version):
        raise RolloutError(
            f"version {version!r}: 1-64 letters, digits, '.', '_' or '-', starting alphanumeric"
        )
    return Settings(
        **{  # type: ignore[call-arg]
            **settings.model_dump(),
            "_env_file": None,
            "model": model,
            "redis_prefix": f"{settings.redis_prefix}-{version}",
            "worker_group": f"{settings.worker_group}-{version}",
            "worker_instance_id": None,
        }
    )


def load_embedder(settings: Settings) -> Embedder:
    """The new version's model, loaded before anything is written (a bad path fails here)."""
    try:
        return embedder_from_settings(settings)
    except (OSError, ValueError) as error:
        raise RolloutError(f"cannot load model {settings.model!r}: {error}") from error


def rollout(
    settings: Settings,
    model: str,
    version: str | None = None,
    embedder: Embedder | None = None,
) -> RolloutResult:
    """Replay the topics with ``model`` into a fresh prefix, then switch readers to it.

    ``embedder`` overrides the one ``model`` names (tests pass a fast one).
    """
    version = version or time.strftime("m%Y%m%d-%H%M%S", time.gmtime())
    new = version_settings(settings, model, version)
    client = connect(settings)
    current = read_active(client, settings.redis_prefix)
    if current is not None and current.prefix == new.redis_prefix:
        raise RolloutError(f"version {version!r} already serves")
    if next(client.scan_iter(RedisKeys(new.redis_prefix).pattern(), count=1000), None):
        raise RolloutError(f"prefix {new.redis_prefix!r} is not empty: pick a new version name")
    if embedder is None:
        embedder = load_embedder(new)
    started = time.monotonic()
    worker = EmbedWorker(new, embedder=embedder)
    worker.run(until_caught_up=True)
    active = ActiveModel(
        prefix=new.redis_prefix, version=version, model=model, group=new.worker_group
    )
    previous = switch_active(client, settings.redis_prefix, active)
    return RolloutResult(active, previous, worker.events_total, time.monotonic() - started)
