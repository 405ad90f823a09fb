"""Serving the app with uvicorn: one process, or several workers that each build the app from the
environment (uvicorn starts workers from an import string, so the settings travel as environment variables).

Several workers share one listening socket, bound here with the TCP protocol named (:func:`listening_socket`):
the connections it accepts then get ``TCP_NODELAY`` from asyncio, as a single process's do. uvicorn's own bound
socket leaves the protocol 0, so asyncio leaves Nagle's algorithm on and every response after the first on a
keep-alive connection waits about 40 ms for the client's delayed acknowledgement (uvicorn issue 3149).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from uvicorn.supervisors import Multiprocess

from openidds.clinic import connect, init_registry, patients, require_current
from openidds.clinic.examples import EXAMPLE_FOLDER, load_example
from openidds.errors import OpenIDDSError
from openidds.state_key import KEY_FILE_ENV, key_path, read_key
from openidds.web.app import create_app

DB_VARIABLE = "OPENIDDS_WEB_DB"
TODAY_VARIABLE = "OPENIDDS_WEB_TODAY"
RESEARCH_SEED_VARIABLE = "OPENIDDS_RESEARCH_SEED"
STATE_KEY_VARIABLE = "OPENIDDS_WEB_STATE_KEY_FILE"


def app_from_environment() -> FastAPI:
    """The app on the registry named by ``OPENIDDS_WEB_DB``, for the clinic day ``OPENIDDS_WEB_TODAY`` if set,
    showing researchers the pseudonyms of the research seed ``OPENIDDS_RESEARCH_SEED`` if set, checking uploaded
    pump state files with the key file ``OPENIDDS_WEB_STATE_KEY_FILE`` if set (new alarms escalate under the
    registry's current escalation policy)."""
    engine = connect(os.environ[DB_VARIABLE])
    require_current(engine)
    today = os.environ.get(TODAY_VARIABLE)
    seed = os.environ.get(RESEARCH_SEED_VARIABLE)
    key_file = os.environ.get(STATE_KEY_VARIABLE)
    return create_app(engine, today=dt.date.fromisoformat(today) if today else None,
                      research_seed=research_seed(seed) if seed else None,
                      state_key=read_key(Path(key_file)) if key_file else None)


def research_seed(text: str) -> int:
    """The research seed given as text (an integer, as `openidds registry export research --seed` takes)."""
    try:
        return int(text)
    except ValueError:
        raise OpenIDDSError(RESEARCH_SEED_VARIABLE, "<not an integer>", "an integer seed, the --seed of "
                            "`openidds registry export research` (keep it secret)") from None


def state_key_file(given: Path | None) -> Path | None:
    """The key file the server checks uploaded pump state files with: ``given`` (``--key-file``), else the one
    `openidds program` would use (``$OPENIDDS_STATE_KEY_FILE``, else ``~/.config/openidds/state.key``) when it is
    set or exists, else None (state uploads are refused). A key file that is named but cannot be used (missing,
    readable by others, not a key) is refused, naming it."""
    if given is None and KEY_FILE_ENV not in os.environ and not key_path(None).exists():
        return None
    path = key_path(given)
    read_key(path)
    return path


def prepare_example(engine: Engine) -> bool:
    """Make ``engine``'s registry the example clinic: load it into an empty registry (returns True), accept a
    registry that already holds exactly the example's patients (False), refuse any other."""
    init_registry(engine)
    held = {(p.site, p.patient_id) for p in patients(engine)}
    if not held:
        load_example(engine)
        return True
    with (EXAMPLE_FOLDER / "patients.csv").open(newline="", encoding="utf-8") as file:
        example = {(row["site"], row["patient_id"]) for row in csv.DictReader(file)}
    if held != example:
        raise OpenIDDSError("--example", engine.url.render_as_string(hide_password=True),
                            f"an empty registry to load the example clinic into (this one holds {len(held)} other "
                            "patients): drop --example to serve it, or name a new file with --db")
    return False


def serve(db_url: str, host: str, port: int, workers: int, today: dt.date | None,
          research_seed: int | None = None, key_file: Path | None = None) -> None:
    """Serve the registry at ``db_url`` until interrupted (the registry must be at the newest schema); uploaded
    pump state files are checked with ``key_file`` (see :func:`state_key_file`), refused without one."""
    require_current(connect(db_url))
    os.environ[DB_VARIABLE] = db_url
    for variable, value in ((TODAY_VARIABLE, None if today is None else today.isoformat()),
                            (RESEARCH_SEED_VARIABLE, None if research_seed is None else str(research_seed)),
                            (STATE_KEY_VARIABLE, None if key_file is None else str(key_file))):
        if value is not None:
            os.environ[variable] = value
        else:
            os.environ.pop(variable, None)
    app = "openidds.web.server:app_from_environment"
    if workers == 1:
        uvicorn.run(app, factory=True, host=host, port=port, log_level="info", proxy_headers=True)
        return
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, log_level="info",
                            proxy_headers=True)
    Multiprocess(config, sockets=[listening_socket(config)]).run()


def listening_socket(config: uvicorn.Config) -> socket.socket:
    """The socket uvicorn binds for ``config``'s workers, its protocol set to TCP: the sockets it accepts then
    report ``IPPROTO_TCP``, which asyncio needs before it turns Nagle's algorithm off on them."""
    bound = config.bind_socket()
    tcp = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    tcp.set_inheritable(True)
    return tcp
