import random

from kafka.partitioner.default import murmur2 as kafka_murmur2

from streamrec.core.partitioning import murmur2, partition_for


def test_murmur2_equals_the_kafka_clients_hash() -> None:
    rng = random.Random(0)
    for length in range(40):
        data = bytes(rng.randrange(256) for _ in range(length))
        assert murmur2(data) == kafka_murmur2(data)


def test_keys_spread_over_every_partition_and_stay_put() -> None:
    seen = {partition_for(f"user-{n}", 4) for n in range(200)}
    assert seen == {0, 1, 2, 3}
    assert partition_for("A2EZWZ8MBEDOLN", 4) == partition_for("A2EZWZ8MBEDOLN", 4)
