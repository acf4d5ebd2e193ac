"""Erasure requests from the deletions topic, applied by the worker that owns the user.

``streamrec delete-user`` removes the user's keys from Redis at once and
publishes a :class:`streamrec.core.events.DeletionEvent` keyed by user id, so
it lands on the partition number of the user's reviews and clicks, which range
assignment gives to one worker: the one holding the profile. The reader ends a
micro-batch at each request, so the user's earlier events are applied first;
the batch's lists are then written without the user, the user's keys deleted,
and the loop checkpoints at once, before the request's offset is committed.
"""

from __future__ import annotations

import logging

from streamrec.app.worker.progress import Progress
from streamrec.model.engine import Engine
from streamrec.serving.schema import Publication
from streamrec.serving.store import RecsStore, with_retry

log = logging.getLogger(__name__)


class Eraser:
    def __init__(self, store: RecsStore, engine: Engine, progress: Progress) -> None:
        self.store = store
        self.engine = engine
        self.progress = progress
        self.erased = 0

    def forget(self, user_ids: list[str], out: Publication) -> None:
        """Forget the users in memory and keep this batch's outputs for them out of Redis."""
        for user_id in user_ids:
            self.engine.forget_user(user_id)
            self.progress.dedup.forget_owner(user_id)
            out.user_recs.pop(user_id, None)
            out.assignments.pop(user_id, None)
            out.recent_items.pop(user_id, None)
            log.info("user erased", extra={"user_hash": hash(user_id) & 0xFFFF})
        if user_ids:
            out.clusters = self.engine.cluster_summaries()  # without their representatives
            self.progress.erased = True
            self.erased += len(user_ids)

    def delete_keys(self, user_ids: list[str]) -> None:
        """Delete what earlier batches wrote for the users (after this batch's write)."""
        for user_id in user_ids:
            with_retry(lambda u=user_id: self.store.delete_user(u), "delete user keys")
