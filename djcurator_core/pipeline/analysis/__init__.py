"""`beet djanalyze` on Temporal: the analysis workflow, its activities (a process pool,
one process per core) and the client that starts it."""
