"""The TOML data files shipped in a folder of the cohort package (studies, clinics): their ids, and one read by
id or by path."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from openidds.errors import OpenIDDSError


def bundled_ids(folder: str) -> tuple[str, ...]:
    """The ids of the ``.toml`` files shipped in the package's ``folder``."""
    files = resources.files("openidds.cohort") / folder
    return tuple(sorted(p.name.removesuffix(".toml") for p in files.iterdir() if p.name.endswith(".toml")))


def read_toml_file(name_or_path: str | Path, folder: str, kind: str, error: type[OpenIDDSError]) -> tuple[str, str]:
    """The text of a bundled ``kind`` file by id (``seed000``) or of a file by path, and how errors name it;
    ``error`` refuses an unknown id or a missing file, naming the field ``kind``."""
    path = Path(name_or_path)
    if isinstance(name_or_path, Path) or path.suffix == ".toml" or len(path.parts) > 1:
        if not path.is_file():
            raise error(kind, str(name_or_path), f"an existing {kind} file (.toml)")
        return path.read_text(encoding="utf-8"), str(path)
    known = bundled_ids(folder)
    if name_or_path not in known:
        raise error(kind, name_or_path, f"one of the bundled {folder} {', '.join(known)}, or the path of a {kind} "
                                        "file")
    text = (resources.files("openidds.cohort") / folder / f"{name_or_path}.toml").read_text(encoding="utf-8")
    return text, f"{name_or_path}.toml"
