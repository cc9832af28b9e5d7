"""Control characters: refused on input (every action), and never in an XML answer."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import pytest

from bridge.api.whmcs.envelope import to_xml
from tests.bridge.conftest import CLIENT


@pytest.mark.parametrize("bad", ["A\x01B", "A\x08", "\x1fA", "A\x0bB", "A\x00B"])
def test_control_characters_are_refused_and_nothing_is_written(api: Any, bad: str) -> None:
    resp = api("AddClient", **{**CLIENT, "firstname": bad})
    body = resp.get_json()
    assert body["result"] == "error" and body["message"].startswith("Invalid characters in parameter firstname")
    assert api("GetClients").get_json()["totalresults"] in (0, "0")


def test_tab_and_newlines_are_text(api: Any) -> None:
    resp = api("AddClient", **{**CLIENT, "address1": "1 Main St\r\nFloor 2\tleft"})
    assert resp.get_json()["result"] == "success", resp.get_json()
    cid = resp.get_json()["clientid"]
    xml = api("GetClientsDetails", clientid=cid, responsetype="xml").get_data()
    assert ET.fromstring(xml).find("client/address1").text.startswith("1 Main St")


def test_xml_answers_stay_well_formed_whatever_is_stored() -> None:
    raw = to_xml({"result": "success", "notes": "legacy \x01 row \x0b \ud800 ok"}, "8.13.1")
    root = ET.fromstring(raw)
    assert root.find("notes").text == "legacy \ufffd row \ufffd \ufffd ok"
