"""Embed worker entry point: ``python consumers/embed_worker.py --help``.

The same command as ``streamrec worker``: consumes reviews and clicks,
embeds, clusters and writes recommendations to Redis.
"""

import typer

from streamrec.cli import worker

if __name__ == "__main__":
    typer.run(worker)
