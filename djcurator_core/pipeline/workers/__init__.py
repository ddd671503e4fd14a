"""The worker process: which workflows and activities it serves, the `djset-worker`
command, the folders and libraries it may touch, and its memory budget."""
