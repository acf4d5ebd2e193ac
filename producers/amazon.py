"""Publish the Amazon 5-core reviews: ``python producers/amazon.py --help``.

The same command as ``streamrec produce amazon``.
"""

import typer

from streamrec.cli import produce_amazon

if __name__ == "__main__":
    typer.run(produce_amazon)
