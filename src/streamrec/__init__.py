"""StreamRec: a streaming recommender that clusters users by what they write."""

__version__ = "0.1.0"
