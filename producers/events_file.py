"""Publish a JSON-lines file of events: ``python producers/events_file.py FILE``.

The same command as ``streamrec produce events``.
"""

import typer

from streamrec.cli import produce_events

if __name__ == "__main__":
    typer.run(produce_events)
