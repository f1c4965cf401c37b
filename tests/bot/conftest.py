"""Shared fixtures for the bot tests: the default pack and one model trained from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from relaydesk.bot.kb import KnowledgeBase
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack, load_pack

TEST_DATA = Path(__file__).parent / "data"


def shared_data_dir() -> Path:
    """The public datasets (Banking77, Bitext, ABCD) beside the repository, if present."""
    env = os.environ.get("RELAYDESK_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def pack() -> Pack:
    return load_pack()


@pytest.fixture(scope="session")
def model(pack: Pack) -> NluModel:
    return NluModel.from_pack(pack)


@pytest.fixture(scope="session")
def kb(pack: Pack) -> KnowledgeBase:
    return KnowledgeBase(pack.articles)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "banking77" / "train.csv").exists():
        pytest.skip(f"shared datasets not found at {path}")
    return path
