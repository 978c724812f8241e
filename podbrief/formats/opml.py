"""OPML subscription lists: read with defusedxml (no entity tricks), write with ElementTree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.utils import formatdate
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from podbrief.errors import InputError


@dataclass(frozen=True)
class Outline:
    url: str
    title: str | None


def parse(data: bytes, source: str) -> list[Outline]:
    """Every outline with an xmlUrl, at any depth (folders are flattened), in document order, without repeats."""
    try:
        root = safe_xml.fromstring(data)
    except DefusedXmlException as exc:
        raise InputError(f"{source}: refused: the OPML declares XML entities ({type(exc).__name__})") from None
    except (ParseError, LookupError) as exc:  # LookupError: an encoding expat does not know
        raise InputError(f"{source}: not a valid OPML file ({exc})") from None
    if root.tag != "opml" or root.find("body") is None:
        raise InputError(f"{source}: not an OPML file (no <opml><body>)")
    outlines: list[Outline] = []
    seen: set[str] = set()
    for element in root.find("body").iter("outline"):
        url = (element.get("xmlUrl") or "").strip()
        if url and url not in seen:
            seen.add(url)
            outlines.append(Outline(url, (element.get("title") or element.get("text") or "").strip() or None))
    return outlines


def dump(outlines: list[Outline], title: str = "podbrief subscriptions") -> bytes:
    """An OPML 2.0 document listing the feeds."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = formatdate(usegmt=True)
    body = ET.SubElement(opml, "body")
    for outline in outlines:
        text = outline.title or outline.url
        ET.SubElement(body, "outline", type="rss", text=text, title=text, xmlUrl=outline.url)
    ET.indent(opml)
    return ET.tostring(opml, encoding="utf-8", xml_declaration=True) + b"\n"
