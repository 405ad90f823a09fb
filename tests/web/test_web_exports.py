"""Exports as downloads on SQLite and PostgreSQL: each is what `openidds registry export` writes, the registry's
CSV files import back to the same records, and a researcher takes only the de-identified research export."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from openidds.clinic import (
    analysis_dataset,
    connect,
    data_dictionary,
    import_batch,
    init_registry,
    read_paths,
    store,
    write_dataset,
    write_research_export,
)
from openidds.clinic.database import sessions
from openidds.web import Role

from .conftest import RESEARCH_SEED, log_in_as

IDENTIFIERS = ("Wang", "Zhang", "Liu", "MRN001", "NGP100001", "1960-04-02", "P001", "disease progression")


def _unzipped(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _records(engine: Engine) -> list[str]:
    with sessions(engine)() as session:
        snapshot = store.load(session)
    return sorted(str((r.spec.name, r.patient, r.implant_date, sorted(r.values.items(), key=str)))
                  for r in snapshot.records)


def test_the_data_manager_downloads_what_the_command_line_exports(client: TestClient, clinic: Engine,
                                                                  tmp_path: Path) -> None:
    log_in_as(client, Role.DATA_MANAGER)
    page = client.get("/exports").text
    for kind in ("analysis", "records", "redcap-dictionary", "fhir", "research"):
        assert f'href="/api/exports/{kind}"' in page
    analysis = client.get("/api/exports/analysis")
    assert analysis.status_code == 200 and analysis.headers["content-disposition"] == \
        'attachment; filename="analysis.csv"'
    assert analysis.content == write_dataset(analysis_dataset(clinic), tmp_path / "analysis.csv").read_bytes()
    assert client.get("/api/exports/redcap-dictionary").text == data_dictionary()
    bundle = client.get("/api/exports/fhir").json()
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) > 3


def test_the_registry_csv_files_import_back_to_the_same_records(client: TestClient, clinic: Engine,
                                                                tmp_path: Path) -> None:
    log_in_as(client, Role.DATA_MANAGER)
    files = _unzipped(client.get("/api/exports/records").content)
    assert {"patients.csv", "visits.csv", "refills.csv", "exits.csv"} <= set(files)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    copy = connect(str(tmp_path / "copy.sqlite"))
    init_registry(copy)
    import_batch(copy, read_paths([tmp_path]), "test", "registry-csv.zip")
    assert _records(copy) == _records(clinic)
    again = import_batch(clinic, read_paths([tmp_path]), "test", "registry-csv.zip")
    assert again.inserted == {} and sum(again.updated.values()) == 0
    copy.dispose()


def test_the_researcher_takes_the_research_export_of_the_servers_seed_only(client: TestClient, clinic: Engine,
                                                                         tmp_path: Path) -> None:
    log_in_as(client, Role.RESEARCHER)
    page = client.get("/exports").text
    assert 'href="/api/exports/research"' in page and 'href="/api/exports/analysis"' not in page
    files = _unzipped(client.get("/api/exports/research").content)
    expected = {p.name: p.read_bytes() for p in write_research_export(clinic, tmp_path, RESEARCH_SEED)}
    assert files == expected
    text = b"".join(files.values()).decode("utf-8")
    for identifier in IDENTIFIERS:
        assert identifier not in text
    ids = {row["research_id"] for row in client.get("/api/research/patients").json()}
    assert all(research_id in text for research_id in ids)  # the IDs the researcher's pages show
    for kind in ("analysis", "records", "redcap-dictionary", "fhir"):
        assert client.get(f"/api/exports/{kind}").status_code == 403


def test_clinicians_take_no_export(client: TestClient) -> None:
    for role in (Role.NURSE, Role.PHYSICIAN, Role.ADMINISTRATOR):
        log_in_as(client, role)
        assert client.get("/exports").status_code == 403
        for kind in ("analysis", "research", "fhir"):
            response = client.get(f"/api/exports/{kind}")
            assert response.status_code == 403 and "a role that may export" in response.text
