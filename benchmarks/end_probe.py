"""How long the reader's "where does this partition end?" takes, on two connections.

A consumer replays a topic of 8 partitions from the start in polls of 64 records,
as the worker's reader does, and after each poll asks where the partitions end:
once on the consumer's own connection (the broker answers it only after the
pending fetch, which it holds up to ``fetch_max_wait_ms``) and once through
:class:`streamrec.kafka.offsets.EndProbe` (a connection of its own). Prints
both means and their ratio, measured in one run.

Needs the local servers (``make infra-up``). Writes benchmarks/results/end_probe.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from kafka import KafkaConsumer, TopicPartition

from common import write_result
from streamrec.core.settings import Settings
from streamrec.kafka.clients import make_producer
from streamrec.kafka.offsets import EndProbe
from streamrec.kafka.topics import Topics, ensure_topics

PARTITIONS = 8


def timed(ask, partitions: list[TopicPartition]) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    ask(partitions)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=4000)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        topic_reviews=f"bench-{run}.reviews",
        topic_clicks=f"bench-{run}.clicks",
        topic_partitions=PARTITIONS,
        log_json=False,
    )
    ensure_topics(settings)
    topic = Topics.from_settings(settings).reviews
    producer = make_producer(settings)
    for i in range(args.records):
        producer.send(topic, key=str(i).encode(), value=b"x" * 200)
    producer.flush()
    producer.close()

    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer = KafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False)
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    probe = EndProbe(settings)
    probe(partitions)  # its first call learns the metadata: not counted
    own: list[float] = []
    separate: list[float] = []
    fetched = 0
    while fetched < args.records:
        polled = consumer.poll(timeout_ms=50, max_records=64)
        fetched += sum(len(records) for records in polled.values())
        own.append(timed(lambda ps: consumer.end_offsets(ps, timeout_ms=5000), partitions))
        separate.append(timed(probe, partitions))
    consumer.close()
    probe.close()

    result = {
        "records": args.records,
        "partitions": PARTITIONS,
        "asks": len(own),
        "consumer_ms_mean": round(1000 * statistics.fmean(own), 2),
        "consumer_ms_p95": round(1000 * sorted(own)[int(0.95 * (len(own) - 1))], 2),
        "probe_ms_mean": round(1000 * statistics.fmean(separate), 2),
        "probe_ms_p95": round(1000 * sorted(separate)[int(0.95 * (len(separate) - 1))], 2),
    }
    result["ratio"] = round(result["consumer_ms_mean"] / max(result["probe_ms_mean"], 1e-3), 1)
    for key, value in result.items():
        print(f"{key}: {value}")
    write_result("end_probe.json", result)


if __name__ == "__main__":
    main()
