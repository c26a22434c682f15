"""Benchmarks run by ``mimpc bench NAME``; each prints ratios measured side by side in one run."""
