"""A real uvicorn server of the API on a free loopback port, in a thread, and a small
stream through the real worker (hashing embedder: no model) to serve from."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from streamrec.app.api.context import ApiContext
from streamrec.app.api.server import create_app
from streamrec.app.worker import EmbedWorker
from streamrec.core.events import ClickEvent, ReviewEvent
from streamrec.core.settings import Settings
from tests.doubles import HashingEmbedder
from tests.integration.helpers import produce, run_worker, wait_until

TEXTS = {
    "strings": "bright guitar strings stay in tune",
    "pedal": "distortion pedal with warm overdrive tone",
    "mic": "condenser microphone for vocals recording",
    "cable": "instrument cable with no crackle noise",
}


NOISE = "cheap solid loud quiet heavy light vintage modern studio stage gig travel".split()


def small_stream(
    n_users: int = 16, per_user: int = 4, noise: bool = False
) -> list[ReviewEvent | ClickEvent]:
    """Users who each review items of one topic: four tastes, five items per topic.
    ``noise`` adds two words per review, so users of one taste differ a little."""
    topics = list(TEXTS)
    events: list[ReviewEvent | ClickEvent] = []
    for n in range(n_users * per_user):
        user, topic = n % n_users, topics[(n % n_users) % 4]
        item = f"{topic}-{n % 5}"
        events.append(ClickEvent(event_id=f"c{n}", user_id=f"u{user}", item_id=item, ts=n))
        events.append(
            ReviewEvent(
                event_id=f"r{n}",
                user_id=f"u{user}",
                item_id=item,
                text=TEXTS[topic] + (f" {NOISE[n % 12]} {NOISE[(n * 7) % 11]}" if noise else ""),
                rating=5.0,
                ts=n,
            )
        )
    return events


def seed(settings: Settings, events: list[ReviewEvent | ClickEvent] | None = None) -> list:
    """Events through Kafka and the real worker into Redis; returns the events."""
    events = events if events is not None else small_stream()
    produce(settings, events)
    run_worker(EmbedWorker(settings, embedder=HashingEmbedder(64)), timeout=120)
    return events


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(settings: Settings, ctx: ApiContext | None = None) -> Iterator[str]:
    """The API under uvicorn on loopback; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, ctx), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 30, "uvicorn started")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def taste(user_id: str) -> str:
    return list(TEXTS)[int(user_id[1:]) % 4]


def replay_sessions(url: str, users: int, rounds: int, seed_: int) -> None:
    """Each user asks for recs and clicks an item of their taste with probability 0.8/rank
    (position-biased attention); clicks carry the impression id."""
    rng = random.Random(seed_)
    clicks, n = [], 0
    with httpx.Client(base_url=url) as client:
        for round_ in range(rounds):
            for u in range(users):
                body = client.get(f"/v1/users/u{u}/recs", params={"k": 10}).json()
                for rank, item in enumerate(body["items"], start=1):
                    if item["item_id"].startswith(taste(f"u{u}")) and rng.random() < 0.8 / rank:
                        n += 1
                        clicks.append(
                            {
                                "type": "click",
                                "event_id": f"x{seed_}-{n}",
                                "user_id": f"u{u}",
                                "item_id": item["item_id"],
                                "ts": 1e9 + round_,
                                "impression_id": body["impression_id"],
                            }
                        )
                        break
        assert client.post("/v1/events", json=clicks).status_code == 202
