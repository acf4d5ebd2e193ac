"""Online clusterers behind one small interface (see :mod:`streamrec.clustering.base`)."""

from streamrec.clustering.base import Clusterer, LifecycleEvent, Snapshot
from streamrec.clustering.online_kmeans import OnlineKMeans

__all__ = ["Clusterer", "LifecycleEvent", "OnlineKMeans", "Snapshot"]
