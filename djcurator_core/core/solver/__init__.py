"""Ordering: the open-path solver (numba kernels and their on-disk cache), the request it
solves, whole-pool ordering for very large pools and the longest mixable chain."""
