"""Processing state that survives restarts: the checkpoint codec, the dedup window and the
merge of several workers' shared model.

The commit order of the worker, written down once (as Quix Streams does):

1. side outputs (dead letters, cluster lifecycle events) are produced and flushed;
2. the batch's Redis writes (recs, assignments, recent items; the keys of users it
   erased are deleted) succeed;
3. the checkpoint is written to Redis in one MULTI/EXEC: the shared model
   (clusters, items, labels, the group tree, how far each cluster id range
   got; merged with other workers' under WATCH, see
   :mod:`streamrec.checkpointing.sync`) as a hash of one ``global`` field
   (everything not per item: clock, clusters, labels, ranker, id ranges, the
   version, the history of the decay bases), one field per item (its id,
   statistics and signal values, :func:`~streamrec.checkpointing.codec.encode_items`)
   and one per item with neighbours (its co-occurrence and transition rows),
   of which only those changed since the last checkpoint are written (all of
   them when the decay bases' history cannot say how to catch up an older
   field, :func:`~streamrec.checkpointing.codec.follow_bases`, and after a
   merge those that differ from what is stored); for a worker with a static
   instance id, the ops its nearest-item index made since the last checkpoint
   (:mod:`~streamrec.checkpointing.index_log`: appended, so a restart replays
   them to the same HNSW graph); and, per owned partition, a
   :class:`~streamrec.checkpointing.codec.PartitionCheckpoint` (its next
   offsets, its dedup window) and the profiles of its users changed since the
   last checkpoint (one hash field each, :func:`~streamrec.checkpointing.codec.split_users`;
   erased users' fields deleted), so both parts grow with what changed, not
   with the catalogue or the user base. The writer holds the group's checkpoint
   lease meanwhile (an advisory key with an expiry); a worker whose checkpoint
   is merely due puts it off to after its next batch while another holds it
   (at most one interval late), so merges of several workers do not run at
   once only for WATCH to discard one; WATCH alone keeps the write correct;
4. the same offsets are committed to the Kafka consumer group.

A crash before 3 replays the batch from the previous checkpoint onto the
previous state, which rewrites the same Redis values (effectively once). A
crash between 3 and 4 leaves Kafka behind the checkpoint: on restart the
worker seeks to the checkpoint's offsets, which win over the group's. Events
redelivered for any other reason are dropped by the dedup window. Because
the shared model and the partitions' offsets change in one transaction, no
event's contribution is merged twice or lost. A batch replayed after a crash
gives its new clusters the same ids as the first time (the id ranges are in
the checkpoint), so its lifecycle events on the ``cluster-events`` topic repeat
identically (at least once, never different).

The I/O of each step lives with its adapter (:mod:`streamrec.kafka`,
:mod:`streamrec.serving.store`); the worker follows the order in
:mod:`streamrec.app.worker`.
"""
