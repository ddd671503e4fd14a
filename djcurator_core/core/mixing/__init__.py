"""Mixing one track into the next: where to leave the outgoing track and enter the
incoming one, on phrase boundaries of both, and for how many bars they overlap."""
