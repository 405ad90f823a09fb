"""Exports as downloads on SQLite and PostgreSQL: each is what `openidds registry export` writes, the registry's
CSV files import back to the same records, a researcher takes only the de-identified research exports, and every
download is one entry of the audit trail (user, kind, the file's SHA-256), listed on the page."""

from __future__ import annotations

import hashlib
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
from openidds.clinic.audit import AuditAction, audit_entries
from openidds.clinic.audit_chain import verify_audit_chain
from openidds.clinic.database import sessions
from openidds.clinic.redcap import redcap_records, research_data_dictionary, research_redcap_records
from openidds.web import Role
from openidds.web.exports import ExportKind

from .conftest import NOW, RESEARCH_SEED, log_in_as, user_name

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
    for kind in ExportKind:
        assert f'href="/api/exports/{kind.value}"' in page
    analysis = client.get("/api/exports/analysis")
    assert analysis.status_code == 200 and analysis.headers["content-disposition"] == \
        'attachment; filename="analysis.csv"'
    assert analysis.content == write_dataset(analysis_dataset(clinic), tmp_path / "analysis.csv").read_bytes()
    assert client.get("/api/exports/redcap-dictionary").text == data_dictionary()
    redcap = client.get("/api/exports/redcap")
    assert redcap.headers["content-disposition"] == 'attachment; filename="redcap-records.csv"'
    assert redcap.text == redcap_records(clinic)
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
    for kind in ("analysis", "records", "redcap-dictionary", "redcap", "fhir"):
        assert client.get(f"/api/exports/{kind}").status_code == 403
    redcap = client.get("/api/exports/research-redcap").text
    assert redcap == research_redcap_records(clinic, RESEARCH_SEED)
    dictionary = client.get("/api/exports/research-redcap-dictionary")
    assert dictionary.headers["content-disposition"] == 'attachment; filename="research-redcap-dictionary.csv"'
    assert dictionary.text == research_data_dictionary()
    for identifier in IDENTIFIERS:
        assert identifier not in redcap
    assert all(research_id in redcap for research_id in ids)
    assert "Recent exports" not in client.get("/exports").text  # who exported what is the data manager's


def test_clinicians_take_no_export(client: TestClient) -> None:
    for role in (Role.NURSE, Role.PHYSICIAN, Role.ADMINISTRATOR):
        log_in_as(client, role)
        assert client.get("/exports").status_code == 403
        for kind in ("analysis", "research", "fhir", "redcap", "research-redcap", "research-redcap-dictionary"):
            response = client.get(f"/api/exports/{kind}")
            assert response.status_code == 403 and "a role that may export" in response.text
    assert audit_entries(client.app.state.web.engine, AuditAction.EXPORT) == []  # a refusal takes nothing away


def test_each_download_is_one_audit_entry_with_the_user_kind_and_digest(client: TestClient, clinic: Engine) -> None:
    log_in_as(client, Role.DATA_MANAGER)
    assert "No export yet." in client.get("/exports").text
    digests = {}
    for kind in ExportKind:
        before = audit_entries(clinic, limit=1)[0].id
        response = client.get(f"/api/exports/{kind.value}")
        assert response.status_code == 200
        new = [e for e in audit_entries(clinic, limit=5) if e.id > before]
        assert len(new) == 1, kind
        [entry] = new
        name = response.headers["content-disposition"].split('"')[1]
        sha = hashlib.sha256(response.content).hexdigest()
        assert (entry.user_name, entry.at, entry.action, entry.table_name, entry.source) == (
            user_name(Role.DATA_MANAGER), NOW, "export", "registry", "web app: exports")
        assert entry.after == {"kind": kind.value, "files": [{"name": name, "size_bytes": len(response.content),
                                                              "sha256": sha}]}
        digests[kind.value] = sha
    page = client.get("/exports").text
    assert all(sha in page for sha in digests.values())
    assert verify_audit_chain(clinic).findings == []
    log_in_as(client, Role.RESEARCHER)
    client.get("/api/exports/research")
    [entry] = audit_entries(clinic, AuditAction.EXPORT, limit=1)
    assert (entry.user_name, entry.after["kind"]) == (user_name(Role.RESEARCHER), "research")
