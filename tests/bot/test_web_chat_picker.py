"""The web chat's "You are" picker (issue 19): a name alone when the person has no staff role, never "Name ()"."""

from __future__ import annotations

import httpx

from bot.web_chat import CHAT_PAGE, picker_label
from tests.conftest import LiveServer


def test_the_picker_shows_just_the_name_when_a_person_has_no_staff_role(
    offline_server: LiveServer, http: httpx.Client
) -> None:
    people = {p["slack_id"]: p for p in http.get(f"{offline_server.url}/api/employees").json()}
    assert people["U0000DEVONE"]["roles"] == ["employee"]
    assert people["U0000DEVONE"]["label"] == "Sofia Rossi"
    assert people["U0000HRPART"]["label"] == "Tomás Ferreira (hr)"
    assert not any(p["label"].endswith("()") for p in people.values())
    # The page shows the endpoint's label as it is rather than building its own from the roles.
    script = CHAT_PAGE.read_text(encoding="utf-8")
    assert "o.textContent = p.label" in script and 'p.name + " ("' not in script


def test_picker_label_names_only_the_roles_beyond_employee() -> None:
    assert picker_label("Sofia Rossi", ["employee"]) == "Sofia Rossi"
    assert picker_label("Nobody Yet", []) == "Nobody Yet"
    assert picker_label("Daniel Kim", ["employee", "manager"]) == "Daniel Kim (manager)"
    assert picker_label("Morgan Reyes", ["admin", "employee", "hr"]) == "Morgan Reyes (admin, hr)"
