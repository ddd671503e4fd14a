"""The pure core: keys, scoring, solving, selection, energy arcs, justification.

Nothing in this package imports Temporal, beets or touches files; every function is a
plain computation on tracks, so it is unit-tested without a server and reused by the
CLI, the activities and the plugin alike.
"""
