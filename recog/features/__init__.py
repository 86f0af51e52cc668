"""Feature extraction. `io` and `ink` are numpy-only; `audio` and `augment` use torch (training side)."""
