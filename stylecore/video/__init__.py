"""Video: a chain of frames kept consistent by optical flow, decoding/encoding, the frame cache."""
