"""Where an agent keeps its data, and its last status: ``<agent dir>/status.json``.

The agent writes every heartbeat there too, whether or not the upload works, so the
commune's own operator can see the station's state without the network
(``loa agent status``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config import Commune, Settings, UserInputError

STATUS_FILE = "status.json"


def registered_commune(settings: Settings, commune_id: str) -> Commune:
    organisation = settings.organisation
    try:
        return organisation.commune(commune_id)
    except KeyError:
        known = ", ".join(organisation.commune_ids())
        raise UserInputError(
            f"unknown commune {commune_id!r}: not in the district registry of "
            f"{organisation.district.id!r} ({known})"
        ) from None


def agent_directory(settings: Settings, commune_id: str) -> Path:
    """``<data_dir>/agents/<commune_id>/``: state, manifest, cache, outbox, status."""
    return settings.data_dir / "agents" / commune_id


def status_path(settings: Settings, commune_id: str) -> Path:
    return agent_directory(settings, commune_id) / STATUS_FILE


def read_status(settings: Settings, commune_id: str) -> dict[str, Any]:
    """The last status the commune's agent on this host wrote (a heartbeat document).
    ``UserInputError`` naming the commune and the file when there is none (yet)."""
    commune = registered_commune(settings, commune_id)
    path = status_path(settings, commune.id)
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise UserInputError(
            f"commune {commune.id!r}: no agent state on this host yet ({path} does not exist; "
            "start it with `loa agent run`)"
        ) from None
    except (OSError, ValueError) as error:
        raise UserInputError(f"commune {commune.id!r}: {path} is not readable: {error}") from None
    if not isinstance(document, dict):
        raise UserInputError(f"commune {commune.id!r}: {path} is not a status document")
    return document
