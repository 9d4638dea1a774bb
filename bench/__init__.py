"""Benchmarks: backend calls, latency against the critical path, throughput, memory."""
