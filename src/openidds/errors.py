"""The project's one exception base class."""


class OpenIDDSError(ValueError):
    """Invalid input or a refused command.

    Every message names the field, the value and what was expected, so the refusal can be logged and
    shown as it is.
    """

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}={value!r}: expected {expected}")
