"""Reproducible throughput / latency / memory runs; `python -m benchmarks` runs the suite."""
