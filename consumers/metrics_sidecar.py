"""Metrics sidecar entry point: ``python consumers/metrics_sidecar.py --help``.

The same command as ``streamrec sidecar``: joins clicks to the impressions
they answer and keeps rolling NDCG, HR, MAP, MRR and CTR per strategy in
Redis and on /metrics.
"""

import typer

from streamrec.cli import sidecar

if __name__ == "__main__":
    typer.run(sidecar)
