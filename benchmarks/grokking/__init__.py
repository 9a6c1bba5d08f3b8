"""Evaluation of the grokking early-warning detectors on real training runs (issue 7)."""
