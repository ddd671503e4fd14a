"""Run a DJSetWorkflow worker from a clone: `python worker.py --help`.

The installed package provides the same command as `djset-worker`
(djcurator_core/pipeline/workers/worker_command.py); this script only calls it.
"""

from djcurator_core.pipeline.workers.worker_command import main

if __name__ == "__main__":
    main()
