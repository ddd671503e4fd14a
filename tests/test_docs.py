"""The README and docs/ stay honest: short, linked only inside the repository, and in step
with the plugin they describe.

The README is the page a beets user reads first, so it must not promise an option the
plugin lacks, hide one it has, show a command line the plugin would refuse, or show config
defaults that differ from the plugin's. The plugin's option parser and config defaults are
read from a real `DJSetPlugin` in a subprocess with its own empty BEETSDIR and HOME, so
neither the user's beets configuration nor beets' global state in this test session is
touched. No Temporal server is needed.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 300

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
# [text](target) and ![alt](target), with an optional "title"
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
AUTOLINK = re.compile(r"<((?:https?|ftp|file|mailto):[^>\s]+)>")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][a-zA-Z0-9-]*)")

# Runs in the subprocess: the plugin's options and config defaults as JSON, and the result
# of parsing each command line it gets on stdin with the plugin's own parser.
PLUGIN_PROBE = textwrap.dedent(
    """
    import contextlib, io, json, sys
    import beets
    from beetsplug.djset import DJSetPlugin

    command = DJSetPlugin().commands()[0]
    parser = command.parser
    options = [
        {"short": o._short_opts, "long": o._long_opts, "value": o.takes_value()}
        for o in parser.option_list
    ]
    parsed = []
    for args in json.load(sys.stdin):
        errors = io.StringIO()
        try:  # -h prints the help (to stdout) and exits 0: accepted
            with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(list(args))
            parsed.append(None)
        except SystemExit as exit:
            parsed.append(errors.getvalue().strip().splitlines()[-1] if exit.code else None)
    print(json.dumps({
        "name": command.name,
        "options": options,
        "defaults": beets.config["djset"].flatten(),
        "parsed": parsed,
    }))
    """
)


def probe_plugin(tmp_path: Path, commands: list[list[str]]) -> dict:
    env = {"BEETSDIR": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", PLUGIN_PROBE],
        input=json.dumps(commands),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def without_code(text: str) -> str:
    """The text with fenced code blocks and inline code removed (links in code are text)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return frozenset(slug(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M))


def links(page: Path) -> list[str]:
    text = without_code(page.read_text(encoding="utf-8"))
    return LINK.findall(text) + AUTOLINK.findall(text)


def section(text: str, title: str) -> str:
    """The body of the `## title` section (up to the next `## `)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def djset_commands(text: str) -> list[tuple[str, list[str], bool]]:
    """Every `beet ... djset ...` command line: (the line, the arguments after `djset`,
    whether it is a whole command in a code block rather than a mention in inline code).
    beets' own options (`-v`, `-c FILE`) go before `djset`; what follows is the plugin's."""
    lines = [(line, True) for block in FENCE.findall(text) for line in block.splitlines()]
    lines += [(span, False) for span in INLINE_CODE.findall(FENCE.sub("", text))]
    commands = []
    for line, in_block in lines:
        if not re.search(r"(^|[\s/])beet\s.*\bdjset\b", line):
            continue
        tokens = shlex.split(line.replace("...", ""), comments=True)
        beet = next((i for i, t in enumerate(tokens) if t == "beet" or t.endswith("/beet")), None)
        if beet is None or "djset" not in tokens[beet:]:
            continue  # `beet djset` only in a comment
        start = tokens.index("djset", beet) + 1
        commands.append((line.strip(), tokens[start:], in_block))
    return commands


def options_in_table(text: str) -> set[str]:
    """The options named in the first column of the README's Options table."""
    rows = [line for line in section(text, "Options").splitlines() if line.startswith("| `")]
    return {opt for row in rows for opt in OPTION.findall(row.split(" | ")[0])}


def yaml_blocks(text: str) -> list[dict]:
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)
    return [yaml.safe_load(block) for block in blocks]


# --- the README as a page ----------------------------------------------------------------


def test_readme_is_a_short_plugin_page():
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert 100 < len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"
    headings = set(re.findall(r"^## (.+)$", text, re.M))
    for needed in ("Installation", "Usage", "Options", "Configuration", "Troubleshooting"):
        assert needed in headings, f"README has no '## {needed}' section"
    assert "plugins: djset" in text or "plugins: [djset]" in text


# --- links -------------------------------------------------------------------------------


def test_every_link_points_to_a_file_in_the_repository():
    checked = 0
    for page in pages():
        for target in links(page):
            where = f"{page.relative_to(ROOT)}: link {target!r}"
            assert not SCHEME.match(target), f"{where} leaves the repository"
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.is_relative_to(ROOT), f"{where} points outside the repository"
            assert file.exists(), f"{where}: no such file"
            if anchor and file.suffix == ".md":
                assert anchor in anchors(file), f"{where}: no heading with that anchor"
            checked += 1
    assert checked >= 20, f"only {checked} links found: is the link pattern still right?"


def test_docs_index_lists_every_page():
    listed = {(DOCS / target.partition("#")[0]).resolve() for target in links(DOCS / "index.md")}
    pages_here = {page.resolve() for page in DOCS.glob("*.md")} - {(DOCS / "index.md").resolve()}
    assert pages_here, "docs/ has no pages"
    assert pages_here <= listed, f"docs/index.md does not list {sorted(pages_here - listed)}"


def test_the_link_checks_catch_bad_links(tmp_path):
    """The patterns find the kinds of link the checks are about (so they cannot pass by
    finding nothing)."""
    page = tmp_path / "page.md"
    page.write_text(
        "# A title, with `code`!\n[up](../shared/design/NOTES.md) [web](https://example.org)\n"
        '![img](x.png "t") <https://example.com> `[not](a-link.md)`\n'
        "```\n[in code](nope.md)\n```\n",
        encoding="utf-8",
    )
    assert links(page) == [
        "../shared/design/NOTES.md",
        "https://example.org",
        "x.png",
        "https://example.com",
    ]
    assert anchors(page) == {"a-title-with-code"}
    assert SCHEME.match("https://example.org") and not SCHEME.match("docs/index.md")


# --- the plugin's options and defaults ----------------------------------------------------


def test_readme_options_and_commands_match_the_plugin(tmp_path):
    text = README.read_text(encoding="utf-8")
    commands = djset_commands(text)
    assert sum(in_block for *_, in_block in commands) >= 10, commands
    plugin = probe_plugin(tmp_path, [args for _, args, _ in commands])
    assert plugin["name"] == "djset"
    parser_options = {opt for o in plugin["options"] for opt in o["short"] + o["long"]}
    assert len(parser_options) > 30, parser_options

    documented = options_in_table(text)
    assert documented - parser_options == set(), "README documents options the plugin lacks"
    assert parser_options - documented == set(), "README's Options table misses options"

    # Every command line must name only the plugin's options and, in a code block, parse as
    # written (`beet djset --export` in prose is a mention, not a command). Only the README:
    # docs/ pages may describe an option a feature branch is still landing in the plugin.
    for (line, args, in_block), error in zip(commands, plugin["parsed"], strict=True):
        used = {a.split("=")[0] for a in args if OPTION.fullmatch(a.split("=")[0])}
        unknown = used - parser_options
        assert not unknown, f"{line!r}: not options of beet djset: {unknown}"
        assert error is None or not in_block, f"{line!r}: the plugin's parser refuses it: {error}"


def test_a_misplaced_verbose_flag_is_caught(tmp_path):
    """`beet djset -v` is the mistake the README once made: `-v` is beets' own option and
    goes before the command. The checks above must see it as an error."""
    commands = djset_commands(
        "```sh\nbeet djset -v genres:techno\nbeet -v djset genres:techno\n```"
    )
    assert [args for _, args, _ in commands] == [["-v", "genres:techno"], ["genres:techno"]]
    plugin = probe_plugin(tmp_path, [args for _, args, _ in commands])
    assert plugin["parsed"][0] and "-v" in plugin["parsed"][0]
    assert plugin["parsed"][1] is None


def test_readme_config_block_shows_the_plugin_defaults(tmp_path):
    blocks = [b for b in yaml_blocks(README.read_text(encoding="utf-8")) if "djset" in (b or {})]
    assert blocks, "README has no `djset:` config block"
    defaults = probe_plugin(tmp_path, [])["defaults"]
    assert len(defaults) >= 8, defaults
    full = max(blocks, key=lambda b: len(json.dumps(b)))
    assert full["djset"] == defaults


def test_scoring_page_shows_the_scoring_defaults():
    """docs/scoring.md's `djset.scoring` block is every ScoringConfig field at its default."""
    from djcurator_core.core.rules.scoring import ScoringConfig

    blocks = yaml_blocks((DOCS / "scoring.md").read_text(encoding="utf-8"))
    shown = [b["djset"]["scoring"] for b in blocks if "scoring" in (b or {}).get("djset", {})]
    assert len(shown) == 1, "docs/scoring.md should show one djset.scoring block"
    assert shown[0] == ScoringConfig().model_dump()
