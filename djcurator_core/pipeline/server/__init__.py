"""The Temporal server side: the embedded `temporal server start-dev`, the long-running
local service of `beet djset --serve`, and the loopback codec endpoint for the Web UI."""
