"""Images in and out: decoding, saving, sizes and colour transforms (no optimisation)."""
