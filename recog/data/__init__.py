"""Manifests, datasets, the length-bucketing sampler and batch collation."""
