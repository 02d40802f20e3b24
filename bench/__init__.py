"""Benchmarks: Podium's trainer and sampler against the lecture reference (../shared/bench), the
machine's matmul peaks and MFU, and the app's latency and memory. `make bench` or `python -m bench`;
the figures go to docs/benchmarks.md. Nothing here runs in `make test`."""
