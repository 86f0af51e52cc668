"""Corpus preparation: read a corpus in its own layout, write JSONL manifests (offline)."""
