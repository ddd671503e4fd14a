"""From a pool to a set: candidate reduction for large pools, choosing which tracks make a
set of a given count or duration, and the planning that ties selection to the solver."""
