"""Model registry, weight loading, device choice and worker-side batching.

Nothing outside this package knows how models are loaded or batched; products describe their
model in a small predictor class and the runtime does the rest.
"""
