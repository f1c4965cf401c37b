"""Console test helpers: sign in like a browser, read CSRF tokens out of pages."""

from __future__ import annotations

import re

import httpx

PASSWORD = "correct horse battery"
BASE = "http://relaydesk.test"

WORKSPACE = """
version: 1
settings:
  name: Console shop
  currency: EUR
  timezone: Europe/Stockholm
  default_country: SE
channels:
  - name: website
    kind: api
    settings:
      identity_assurance: trusted
  - name: mobile-app
    kind: api
    settings:
      identity_assurance: trusted
teams:
  - name: support
agents:
  - email: wendy@example.com
    name: Wendy Workspace
    teams: [support]
"""

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


async def sign_in(
    http: httpx.AsyncClient, email: str, password: str = PASSWORD, *, next_path: str = ""
) -> httpx.Response:
    form = await http.get("/console/login", params={"next": next_path} if next_path else None)
    assert form.status_code == 200
    return await http.post(
        "/console/login",
        data={
            "csrf_token": csrf_of(form.text),
            "email": email,
            "password": password,
            "next": next_path,
        },
    )
