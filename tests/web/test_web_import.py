"""The import page and API on SQLite and PostgreSQL: CSV files and a REDCap export imported as the data manager,
the row-by-row report of `openidds registry import`, nothing written on refusal."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from openidds.clinic import ImportRejected, import_batch, read_paths
from openidds.clinic import models as m
from openidds.web import Role

from .conftest import GOOD, log_in_as, user_name

DATA = GOOD.parent


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(model)).scalar_one())
                     for model in (m.Patient, m.Visit, m.Exit, m.AuditEntry))


def _files(*paths: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (path.name, path.read_bytes(), "text/csv")) for path in paths]


def test_a_refused_upload_shows_the_command_line_report_and_writes_nothing(client: TestClient,
                                                                          clinic: Engine) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    bad = sorted((DATA / "bad").glob("*.csv"))
    with pytest.raises(ImportRejected) as expected:
        import_batch(clinic, read_paths(bad), "cli", "bad")  # what `openidds registry import` reports
    before = _counts(clinic)
    response = client.post("/import", data={"csrf_token": token, "format": "csv"}, files=_files(*bad))
    assert response.status_code == 422 and "nothing was written" in response.text
    page = html.unescape(response.text)
    for finding in expected.value.findings:
        assert f"<td>{finding.location}</td><td>{finding.severity}</td><td>{finding.rule}</td>" \
               f"<td>{finding.record}</td><td>{finding.message}</td>" in page
    api = client.post("/api/import", data={"format": "csv"}, files=_files(*bad), headers={"X-CSRF-Token": token})
    assert api.status_code == 422
    assert api.json()["findings"] == [f.to_dict() for f in expected.value.findings]
    assert _counts(clinic) == before


def test_csv_files_are_imported_as_the_data_manager_and_again_add_nothing(client: TestClient,
                                                                         clinic: Engine, tmp_path: Path) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    visits = tmp_path / "visits.csv"
    visits.write_text("site,patient_id,visit_date,visit_type,nrs\nCJFH,P001,2023-07-01,telephone,3\n"
                      "CJFH,P001,2022-10-01,follow_up,2\n", encoding="utf-8")
    response = client.post("/import", data={"csrf_token": token, "format": "csv"}, files=_files(visits))
    assert response.status_code == 200 and 'id="imported"' in response.text
    assert "<td>visits</td><td>1</td><td>1</td><td>0</td>" in response.text
    with clinic.connect() as conn:
        users = set(conn.execute(select(m.AuditEntry.user_name).where(m.AuditEntry.source == "visits.csv")).scalars())
    assert users == {user_name(Role.DATA_MANAGER)}
    again = client.post("/api/import", data={"format": "csv"}, files=_files(visits), headers={"X-CSRF-Token": token})
    assert again.status_code == 200
    assert again.json()["inserted"] == {} and again.json()["unchanged"] == {"visits": 2}


def test_a_redcap_export_is_imported_with_its_dictionary(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    folder = DATA / "redcap"
    before = _counts(clinic)
    response = client.post("/api/import", data={"format": "redcap"}, headers={"X-CSRF-Token": token}, files=[
        ("dictionary", ("dictionary.csv", (folder / "dictionary.csv").read_bytes(), "text/csv")),
        ("records", ("records.csv", (folder / "records.csv").read_bytes(), "text/csv"))])
    assert response.status_code == 200, response.text
    assert response.json()["inserted"]["patients"] >= 1
    assert _counts(clinic)[0] > before[0]


@pytest.mark.parametrize(("files", "message"), [
    ([], "at least one CSV file"),
    ([("files", ("visits.xlsx", b"x", "application/octet-stream"))], "a CSV file named after its kind"),
    ([("files", ("visits.csv", b"\xff\xfe\x00bad", "text/csv")), ("files", ("visits.csv", b"", "text/csv"))],
     "each kind of record in one file"),
])
def test_a_request_that_is_no_import_is_refused_with_its_reason(client: TestClient, clinic: Engine,
                                                                files: list, message: str) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    before = _counts(clinic)
    response = client.post("/import", data={"csrf_token": token, "format": "csv"}, files=files or None)
    assert response.status_code == 422 and message in html.unescape(response.text)
    assert _counts(clinic) == before


def test_a_file_in_an_unknown_encoding_is_refused_not_garbled(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.DATA_MANAGER)
    before = _counts(clinic)
    latin = "site,patient_id,visit_date,visit_type\nCJFH,P001,2023-07-01,t\xe9l\xe9phone\n".encode("latin-1")
    response = client.post("/import", data={"csrf_token": token, "format": "csv"},
                           files=[("files", ("visits.csv", latin, "text/csv"))])
    assert response.status_code == 422 and "visits.csv" in response.text and "encoding" in response.text
    assert _counts(clinic) == before


def test_only_the_data_manager_imports(client: TestClient, clinic: Engine) -> None:
    for role in Role:
        token = log_in_as(client, role)
        expected = 200 if role is Role.DATA_MANAGER else 403
        assert client.get("/import").status_code == expected
        if role is not Role.DATA_MANAGER:
            before = _counts(clinic)
            response = client.post("/api/import", data={"format": "csv"}, headers={"X-CSRF-Token": token},
                                   files=_files(GOOD / "visits.csv"))
            assert response.status_code == 403 and _counts(clinic) == before
