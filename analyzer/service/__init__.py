"""The analyzer service: ZeroMQ ingest, Redis layout and scripts, series advance, counters.

It drives the pure math of `analyzer.core` and is the only analyzer code that does I/O.
"""
