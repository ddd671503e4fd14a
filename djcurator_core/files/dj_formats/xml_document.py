"""What the two XML playlist formats (Rekordbox, Traktor NML) share: text XML can hold,
and serialising a tree as UTF-8 with its declaration.

Tags come from real files and can hold control characters (a stray ``\\x01`` in a
title). XML 1.0 cannot carry them, even escaped: ElementTree would write them raw and
the DJ software would refuse the whole file. So attribute text goes through `xml_text`,
which drops them; a path that holds one is refused by the writer instead (dropping a
character would point at another file).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: object) -> str:
    """`value` as attribute text: characters XML 1.0 cannot hold removed."""
    return _NOT_IN_XML.sub("", str(value))


def has_non_xml_characters(text: str) -> bool:
    return _NOT_IN_XML.search(text) is not None


def serialise(root: ET.Element, declaration: str, *, short_empty_elements: bool = True) -> str:
    """The document as text: `declaration`, then the tree indented by one space a level."""
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode", short_empty_elements=short_empty_elements)
    return f"{declaration}\n{body}\n"
