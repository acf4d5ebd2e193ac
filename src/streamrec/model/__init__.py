"""The recommender itself, pure and without I/O: profiles, item statistics, ranker,
strategies and the engine that updates them batch by batch."""
