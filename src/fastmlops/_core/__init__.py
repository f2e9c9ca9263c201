"""The shared core: input checks, threads, progress, warm-up, the exit protocol
of shared-memory writers, named results and the Prometheus rule writer."""
