"""The embed worker: Kafka micro-batches -> embeddings -> engine -> Redis, effectively once.

One concern per module:

- :mod:`.loop` the poll loop, with the next batch embedded while this one is
  applied (:class:`EmbedWorker`);
- :mod:`.reader` cutting micro-batches in event-time order;
- :mod:`.decode` validating, cleaning and deduplicating records;
- :mod:`.process` applying a batch: engine, side outputs, Redis, metrics;
- :mod:`.commit` restoring and writing checkpoints, committing offsets;
- :mod:`.rebalance` taking partitions in and handing them back;
- :mod:`.erasure` applying ``streamrec delete-user`` requests.

They share :class:`.progress.Progress`. The commit order they follow is
written down in :mod:`streamrec.checkpointing`.
"""

from streamrec.app.worker.loop import EmbedWorker

__all__ = ["EmbedWorker"]
