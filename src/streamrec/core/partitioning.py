"""Which partition a key lands on: Kafka's default partitioner, without a Kafka client.

Kafka's producers (Java's and kafka-python's) put a keyed record on partition
``(murmur2(key) & 0x7fffffff) % partitions``. The in-process replay needs the
same answer to simulate a multi-partition worker, and the pure packages may
not import a Kafka client, so the hash is written out here (after
``org.apache.kafka.common.utils.Utils.murmur2``).

>>> partition_for("A2EZWZ8MBEDOLN", 4) in range(4)
True
>>> murmur2(b"")
275646681
"""

from __future__ import annotations

_MASK = 0xFFFFFFFF
_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """MurmurHash2 (32 bit, seed 0x9747b28c) of ``data``, as Kafka computes it."""
    length = len(data)
    h = 0x9747B28C ^ length
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & ~3
    extra = length % 4
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a string key."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
