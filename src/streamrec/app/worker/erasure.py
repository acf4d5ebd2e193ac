"""``streamrec delete-user`` requests, applied by the worker that holds the user.

The request list in Redis is trimmed only after a checkpoint without the
erased users was written, so a crash in between applies it again.
"""

from __future__ import annotations

import logging

from streamrec.app.worker.progress import Progress
from streamrec.model.engine import Engine
from streamrec.serving.store import RecsStore, with_retry

log = logging.getLogger(__name__)


class Eraser:
    def __init__(self, store: RecsStore, engine: Engine, progress: Progress) -> None:
        self.store = store
        self.engine = engine
        self.progress = progress

    def apply(self) -> int:
        """Forget every requested user in memory; return how many requests were applied."""
        pending = with_retry(self.store.pending_deletions, "read deletions")
        for user_id in pending:
            self.engine.forget_user(user_id)
            self.progress.dedup.forget_owner(user_id)
            with_retry(lambda u=user_id: self.store.delete_user(u), "delete user keys")
            log.info("user erased", extra={"user_hash": hash(user_id) & 0xFFFF})
        if pending:
            self.progress.dirty = True
        return len(pending)

    def done(self, applied: int) -> None:
        """Drop the first ``applied`` requests: a checkpoint no longer holds those users."""
        with_retry(lambda: self.store.trim_deletions(applied), "trim deletions")
