"""Pure building blocks with no I/O: events, text cleaning, decay, ordering, settings."""
