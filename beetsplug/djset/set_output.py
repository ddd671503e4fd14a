"""What `beet djset` leaves behind once a set is ordered: the playlist files (M3U8 and
the other formats, one file each in the playlist folder, written atomically), or the set
on the terminal (`--print`), or the exported tracks (`--export FILE`).

run_command.py parses the command and runs the set; this module turns the options and
the `djset:` config (playlist_dir, format, relative_to, forward_slash) into files and
lines (the run's progress lines too). Scheduled runs (schedule_commands.py) use the same
settings for the playlist their worker writes, so a nightly set lands where a one-off
run of the same options would. The core is imported inside the methods, as in the
plugin: beets loads the plugin package for every command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beets import ui

if TYPE_CHECKING:
    import logging
    from optparse import Values

    import confuse
    from beets.library import Library

    from djcurator_core.core.report.justify import SetResult
    from djcurator_core.files.export import Export


def option_or_config(given: Any, configured: Any) -> Any:
    """The command-line value where one was given (not None), else the configured one."""
    return configured if given is None else given


class SetOutput:
    """The playlist settings of the plugin's config (`djset:`) with the command line over
    them, and the writing and printing of a run's result."""

    def __init__(self, config: confuse.ConfigView, log: logging.Logger) -> None:
        self.config = config
        self.log = log

    def playlist_files(self, opts: Values, name: str) -> list[tuple[str, Path]]:
        """(format, file) for each playlist format of the run, all in the playlist folder,
        and the Mixxx database last (so the first is a file whenever there is one)."""
        from djcurator_core.files.dj_formats.formats import playlist_files

        setting = option_or_config(opts.playlist_dir, self.config["playlist_dir"].as_str())
        folder = Path(os.path.expanduser(setting))
        formats = self.output_formats(opts)
        formats = (*[f for f in formats if f != "mixxx"], *[f for f in formats if f == "mixxx"])
        databases = {"mixxx": self.mixxx_database()} if "mixxx" in formats else None
        paths = playlist_files(folder.absolute(), name, formats, databases)
        return list(zip(formats, paths, strict=True))

    def mixxx_database(self) -> Path:
        """djset.mixxx.database, else Mixxx's database in the platform's settings folder."""
        from djcurator_core.files.mixxx.mixxx_database import default_database

        setting = self.config["mixxx"]["database"].as_str()
        return Path(os.path.expanduser(setting)).absolute() if setting else default_database()

    def mixxx_settings(self, opts: Values) -> dict[str, Any]:
        """The Auto DJ mode and crate of --format mixxx (flags over djset.mixxx); a bad
        djset.mixxx.autodj is a PlaylistError naming it."""
        from djcurator_core.files.dj_formats.playlist import PlaylistError
        from djcurator_core.files.mixxx.mixxx_database import AUTODJ_MODES

        configured = self.config["mixxx"]["autodj"].get()
        if configured in (False, None, ""):  # YAML reads a bare `off` as false
            configured = "off"
        autodj = getattr(opts, "mixxx_autodj", None) or str(configured)
        if autodj not in AUTODJ_MODES:
            raise PlaylistError(f"djset.mixxx.autodj {autodj!r}: one of {', '.join(AUTODJ_MODES)}")
        crate = getattr(opts, "mixxx_crate", None) or self.config["mixxx"]["crate"].as_str()
        return {"mixxx_autodj": autodj, "mixxx_crate": crate or None}

    def output_formats(self, opts: Values) -> tuple[str, ...]:
        """--format, else djset.format (a name, "m3u8,rekordbox" or a list); an unknown
        name is a PlaylistError naming where it came from and the formats."""
        from djcurator_core.files.dj_formats.formats import parse_formats
        from djcurator_core.files.dj_formats.playlist import PlaylistError

        if opts.format is not None:
            source, value = "--format", opts.format
        else:
            source, value = "djset.format", self.config["format"].get()
        try:
            return parse_formats(value)
        except PlaylistError as exc:
            raise PlaylistError(f"{source}: {exc}") from None

    def check_target(self, lib: Library, opts: Values, target: Path) -> None:
        """PlaylistError (one line) unless the playlist's folder can be written and the
        folder its entries are relative to exists (a typo would give broken paths)."""
        from djcurator_core.files.dj_formats.playlist import check_relative_to, check_writable

        formats = self.output_formats(opts)
        if "mixxx" in formats:  # held by a running Mixxx, missing, untested: refuse now
            from djcurator_core.files.mixxx.mixxx_database import check_database

            self.mixxx_settings(opts)
            check_database(self.mixxx_database())
        if formats == ("mixxx",):
            return
        check_writable(target.parent)
        relative_to = self.relative_to(lib, opts, target)
        if relative_to is not None:
            check_relative_to(relative_to)

    def forward_slash(self, opts: Values) -> bool:
        return option_or_config(opts.forward_slash, self.config["forward_slash"].get(bool))

    def relative_to(
        self, lib: Library, opts: Values, playlist: Path, formats: list[str] | None = None
    ) -> str | None:
        """The folder M3U8 entries are relative to (None: absolute paths). Rekordbox XML
        and NML hold absolute paths whatever it says; the run says so when they are
        among `formats`."""
        from djcurator_core.files.dj_formats.formats import FORMATS

        setting = option_or_config(opts.relative_to, self.config["relative_to"].get())
        if not setting:
            return None
        absolute = [fmt for fmt in formats or () if not FORMATS[fmt].relative_paths]
        if absolute:
            self.log.info(
                "relative_to applies to m3u8 only: {} hold absolute paths", ", ".join(absolute)
            )
        if setting == "playlist":
            return str(playlist.parent)
        if setting == "library":
            return os.fsdecode(lib.directory)
        return os.path.expanduser(str(setting))

    def show_progress(self, progress) -> None:
        """One progress line of a run (Progress.line()), on stderr as beets logs."""
        self.log.info("{}", progress.line())

    def write_export(self, destination: str, export: Export) -> None:
        """--export: the tracks_enriched JSON to a file (atomically) or stdout (`-`)."""
        from djcurator_core.core.models import dump_tracks
        from djcurator_core.files.dj_formats.playlist import write_atomically

        text = dump_tracks(export.tracks)
        if destination == "-":
            sys.stdout.write(text)
            return
        write_atomically(Path(destination).expanduser(), text)
        ui.print_(f"wrote {len(export.tracks)} tracks to {destination}")

    def show_or_write(
        self,
        lib: Library,
        opts: Values,
        origin: tuple[str, list[str] | None],
        result: SetResult | None,
        workflow_id: str,
    ) -> None:
        """The finished run's set: its workflow id with --no-wait (no result yet), the
        set on the terminal with --print (text, or JSON when the first format is json),
        else one playlist file per format, each written atomically (a file that fails
        keeps its old version and is one error line, after the others are written).
        `origin` is (set name, query) for the headers."""
        from djcurator_core.core.report.report import render_text
        from djcurator_core.files.dj_formats.formats import RenderOptions, write_playlists
        from djcurator_core.files.dj_formats.playlist import render_json

        if result is None:  # --no-wait
            ui.print_(workflow_id)
            return
        name, query = origin
        if opts.print_set:
            if self.output_formats(opts)[0] == "json":
                sys.stdout.write(render_json(result, name, query=query, workflow_id=workflow_id))
            else:
                sys.stdout.write(render_text(result))
            return
        files = self.playlist_files(opts, name)
        self.check_target(lib, opts, files[0][1])
        options = RenderOptions(
            query=query,
            workflow_id=workflow_id,
            relative_to=self.relative_to(lib, opts, files[0][1], [fmt for fmt, _ in files]),
            forward_slash=self.forward_slash(opts),
            **(self.mixxx_settings(opts) if any(f == "mixxx" for f, _ in files) else {}),
        )
        written = write_playlists(result, name, files, options)
        for path in written.written:
            ui.print_(f"wrote {path} ({result.summary.track_count} tracks)")
        for note in written.notes:
            ui.print_(note)
        written.raise_errors()  # a file not written: one error line, its old version kept
