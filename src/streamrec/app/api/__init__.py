"""The HTTP API and the live dashboard (``streamrec serve``)."""
