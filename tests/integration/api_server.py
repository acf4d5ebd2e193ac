"""A real uvicorn server of the API on a free loopback port, in a thread, and a small
stream through the real worker (hashing embedder: no model) to serve from."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

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


def small_stream(n_users: int = 16, per_user: int = 4) -> list[ReviewEvent | ClickEvent]:
    """Users who each review items of one topic: four tastes, five items per topic."""
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
                text=TEXTS[topic],
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
def serving(settings: Settings) -> Iterator[str]:
    """The API under uvicorn on loopback; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
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
