"""Code shared by every fraudops function, shipped as the `shared` Lambda layer."""
