"""One DJ set on Temporal: DJSetWorkflow, its activities, the client that connects and
starts runs, and the history of past sets."""
