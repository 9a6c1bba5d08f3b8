"""The analyzer's pure math: spectra of update windows, edge rules, phases, coupling, detectors.

Arrays in, values out: nothing here touches Redis, ZeroMQ, HTTP or a clock (a test enforces it),
so every function runs the same in the service, the api, a benchmark or a notebook.
"""
