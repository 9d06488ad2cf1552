"""Fail loudly on a missing template variable under the test suite.

Django prints `string_if_invalid` for a variable it cannot resolve; when that value contains
'%s' it is formatted with the variable's name. This string says it contains '%s' and raises on
formatting, so `{{ missing }}` fails the test that renders it instead of showing nothing.
`{% if %}` and `{% for %}` still treat a missing variable as false/empty, as they should.
"""

from __future__ import annotations

from django.template import TemplateSyntaxError


class MissingVariable(str):
    def __new__(cls) -> MissingVariable:
        return super().__new__(cls, "%s")

    def __contains__(self, item: object) -> bool:
        return item == "%s"

    def __mod__(self, name: object) -> str:
        raise TemplateSyntaxError(f"Template variable not found: {name}")
