"""The one error type the kernel raises for bad input."""

from __future__ import annotations


class ValidationError(Exception):
    """Invalid input, named by a dotted/indexed field path such as ``medications[0].category``.

    The command line prints it as ``error: <field>: <message>`` and exits 2; the API turns it into
    a problem document with the same field path.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
