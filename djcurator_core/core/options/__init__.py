"""The set options: each flag defined once (CLI, plugin and config are built from it) and
the validated SetOptions model."""
