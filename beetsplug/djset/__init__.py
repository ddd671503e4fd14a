"""`beet djset QUERY`: order the matching tracks for harmonic mixing, write a playlist.

A thin command layer over djcurator_core, one concern per module of this package:
- config.py: the `djset:` defaults and the settings read from them (where runs go, the
  worker's scope and memory, the payload store);
- run_command.py: the `djset` command's options and a set made now (export the items,
  resolve the options, run DJSetWorkflow through pipeline/sets/set_runs.py), `--collect`;
- set_output.py: the playlist files, `--print`, `--export` and the progress lines;
- schedule_commands.py: schedules and the local service (`--schedule*`, `--serve`);
- analyze_commands.py: `beet djanalyze`, `--analyze` and analysis on import.
This module holds the plugin class (beets names a plugin after the module that defines
it) and the one place the core's errors become beets' errors. Every user-facing error of
the core is a `DJSetError`, shown as beets' one-line `error: ...` with exit status 1.
The library and the audio files are only read, never written.

The core (numpy, pydantic, numba, temporalio) is imported inside the methods that use
it: beets loads every enabled plugin for every command, and `beet ls` should not pay for
it. Only the light list of set-option flags is imported here, to build the parser.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from beets import plugins, ui
from beets.dbcore import types
from beets.plugins import BeetsPlugin

from beetsplug.djset.analyze_commands import ImportAnalysis, analyze_command
from beetsplug.djset.config import Settings, defaults
from beetsplug.djset.run_command import SetCommand, build_command
from beetsplug.djset.set_output import SetOutput

if TYPE_CHECKING:
    from beets.library import Library

# Exit with os._exit once Temporal work is done (process.exit_now). None = only when this
# process is beets' command line, not when beets runs inside another program (pytest).
EXIT_AFTER_TEMPORAL: bool | None = None


def user_errors(method):
    """Run a command method with the core's one-line errors (DJSetError) as beets'
    UserError: the one place they are translated."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        from djcurator_core.errors import DJSetError

        try:
            return method(*args, **kwargs)
        except DJSetError as exc:
            raise ui.UserError(str(exc)) from None

    return wrapper


class DJSetPlugin(BeetsPlugin):
    # bpm_precise: the analysed tempo with its decimals (beets' own bpm is an integer).
    item_types = {
        "energy": types.FLOAT,
        "bpm_precise": types.FLOAT,
        "key_confidence": types.FLOAT,  # beet djanalyze: 0..1, beside initial_key
        "bpm_start": types.FLOAT,  # ... a tempo change inside the track
        "bpm_end": types.FLOAT,
    }

    def __init__(self) -> None:
        super().__init__()
        self.config.add(defaults())
        self.config["temporal"]["api_key"].redact = True
        self.settings = Settings(self.config, self._log)  # what the config says
        self.output = SetOutput(self.config, self._log)  # playlist files, --print, --export
        ImportAnalysis(self)  # djset.analyze.auto

    def commands(self) -> list[ui.Subcommand]:
        return [build_command(SetCommand(self).run), analyze_command(self)]

    def temporal_command(self, lib: Library, work) -> None:
        """Run `work` (which may return an exit status) with the core's errors as one-line
        user errors; where this process is beets' command line, leave deliberately
        afterwards (process.exit_now: the SDK can crash at interpreter exit)."""
        from djcurator_core.process import beets_is_main, exit_now

        leave = EXIT_AFTER_TEMPORAL if EXIT_AFTER_TEMPORAL is not None else beets_is_main()
        self.settings.use_payload_store()
        code = 0
        try:
            code = user_errors(work)() or 0
        except ui.UserError as exc:
            if not leave:
                raise
            ui.log.error("error: {}", exc.args[0] if exc.args else exc)
            code = 1
        except KeyboardInterrupt:
            if not leave:
                raise
            code = 130
        if leave:
            from djcurator_core.pipeline.beets_library import close_library

            plugins.send("cli_exit", lib=lib)
            close_library(lib)  # as beets' own command line does before it returns
            exit_now(code)
