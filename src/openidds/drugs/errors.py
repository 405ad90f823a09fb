"""The drugs package's exceptions."""

from openidds.errors import OpenIDDSError


class DrugsError(OpenIDDSError):
    """A drug, table, medication line or proposal request that cannot be honoured."""


class InputFileError(DrugsError):
    """A text input (drug library, table, medication list) that failed validation; `problems` lists
    every error with its location."""

    def __init__(self, field: str, value: object, problems: tuple[OpenIDDSError, ...]) -> None:
        self.problems = problems
        listing = "; ".join(str(p) for p in problems)
        super().__init__(field, value, f"a valid file ({len(problems)} problem(s): {listing})")
