"""The Temporal pipeline: the workflow, its activities and contracts, the client that
starts runs, the worker, schedules, the embedded dev server and the local service.

Only this package imports temporalio; the pure core knows nothing of it.
"""
