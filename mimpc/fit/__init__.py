"""``mimpc fit``: a benchmark to a certified, fast policy in one command (see :mod:`mimpc.fit.pipeline`)."""
