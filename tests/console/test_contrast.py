"""The console palette meets WCAG 2.1 AA: 4.5:1 for text on the backgrounds it is used on,
3:1 for the focus ring against the page (non-text contrast)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (
    Path(__file__).resolve().parents[2] / "src/relaydesk/console/static/console/console.css"
).read_text()


def _palette() -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic miss


P = _palette()
TEXT_PAIRS = [
    (fg, bg) for fg in ("ink", "muted", "accent", "ok", "warn", "bad") for bg in ("paper", "wash")
] + [
    ("accent-ink", "accent"),  # button text
    ("ink", "#fbeeee"),  # .alert
    ("ink", "#edf7f0"),  # .notice
    ("ink", "#eef3fb"),  # outbound message
    ("ink", "#fff8e6"),  # fresh row
    ("accent", "#eef3fb"),
    ("muted", "#eef3fb"),
]


@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_text_contrast_aa(fg: str, bg: str) -> None:
    ratio = contrast(P.get(fg, fg), P.get(bg, bg))
    assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}:1"


@pytest.mark.parametrize("bg", ["paper", "wash"])
def test_focus_ring_stands_out(bg: str) -> None:
    assert contrast(P["focus"], P[bg]) >= 3.0
