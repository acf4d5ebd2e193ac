"""Offline evaluation: serve-then-observe replays, baselines, metrics and reports."""
