"""The project's one exception base class."""

from typing import Any


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

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as the class, the message and the attributes, whatever a subclass's constructor takes (a
        worker process's refusal then reaches the parent with its message and fields)."""
        return _restore, (type(self), self.args, dict(self.__dict__))


def _restore(cls: type[OpenIDDSError], args: tuple[Any, ...], state: dict[str, Any]) -> OpenIDDSError:
    """An unpickled error: built without its constructor, then given its message and attributes back."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error
