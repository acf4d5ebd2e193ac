"""Publish MovieLens ratings as events: ``python producers/movielens.py --help``.

The same command as ``streamrec produce movielens``.
"""

import typer

from streamrec.cli import produce_movielens

if __name__ == "__main__":
    typer.run(produce_movielens)
