"""A form renderer that writes Django's simple widget templates in Python, byte for byte.

Django renders every widget, option, label and hidden management field through its template
engine: a form of ~150 widgets (the intake form, with its row tables) spends most of its request
in `{% include %}` and variable lookups. `FastRenderer` is Django's own `DjangoTemplates` form
renderer with a Python fast path for the templates below; each fast path produces exactly the
string the template would (same attributes in the same order, same escaping, same whitespace),
and anything it does not recognise — another template, an option template other than Django's,
a callable value, a template overridden by an installed app — goes through the template as
before. `anagen/web/tests/test_fast_widgets.py` holds the equivalence tests.

Use it per form: `@fast_form` on a form class (the renderer, plus per-form field copies that
share the choice lists), `default_renderer = FAST_RENDERER`, or
`formset_factory(..., renderer=FAST_RENDERER)`. `template_text(value)` writes `{{ value }}` for
page parts built in Python (the intake form's row tables, anagen/patients/forms.py).
"""

from __future__ import annotations

import copy
import re
from html import escape as _html_escape
from pathlib import Path
from typing import Any

import django.forms
from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, SafeString
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]

_W = "django/forms/widgets/"
_DJANGO_FORM_TEMPLATES = Path(django.forms.__file__).parent / "templates"


_SPECIAL = re.compile("[&<>\"']").search


def _escape(text: str) -> str:
    """Django's `escape` (html.escape), skipping the five replaces when nothing needs them."""
    return _html_escape(text) if _SPECIAL(text) else text


class _Fallback(Exception):
    """This context holds something the fast path does not mirror: use the template."""


def _text(value: Any) -> str:
    """`{{ value }}` in a Django template (autoescaped, localised); a callable, which the
    template would call, is left to the template."""
    if type(value) is str:
        return _escape(value)
    if callable(value):
        raise _Fallback
    value = localize(template_localtime(value, use_tz=None), use_l10n=None)
    if not issubclass(type(value), str):
        value = str(value)
    return str(conditional_escape(value))


def template_text(value: Any) -> str:
    """What `{{ value }}` writes in a Django template (for page parts rendered in Python)."""
    try:
        return _text(value)
    except _Fallback:
        raise TypeError("template_text() takes a value, not a callable") from None


def _text_s(value: Any) -> str:
    """`{{ value|stringformat:'s' }}` (the filter keeps a safe string safe)."""
    if type(value) is str:
        return _escape(value)
    if callable(value):
        raise _Fallback
    try:
        text = "%s" % (str(value) if isinstance(value, tuple) else value)
    except (ValueError, TypeError):
        text = ""
    return text if isinstance(value, SafeData) else _escape(text)


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html (and the identical django/forms/attrs.html)."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(" " + _text(name))
        else:
            out.append(f' {_text(name)}="{_text_s(value)}"')
    return "".join(out)


def _input(w: dict[str, Any]) -> str:
    """django/forms/widgets/input.html (text, number, date, email, hidden, checkbox …)."""
    value = w["value"]
    shown = f' value="{_text_s(value)}"' if value != None else ""  # noqa: E711 - as the template
    return (
        f'<input type="{_text(w["type"])}" name="{_text(w["name"])}"{shown}{_attrs(w["attrs"])}>\n'
    )


def _widget(context: dict[str, Any]) -> dict[str, Any]:
    widget = context["widget"]
    if type(widget) is not dict or "items" in widget["attrs"]:
        raise _Fallback  # a `.items` lookup would find the key first
    return widget


def render_input(context: dict[str, Any]) -> str:
    return _input(_widget(context))


def render_textarea(context: dict[str, Any]) -> str:
    w = _widget(context)
    value = _text(w["value"]) if w["value"] else ""
    return f'<textarea name="{_text(w["name"])}"{_attrs(w["attrs"])}>\n{value}</textarea>\n'


def _options(w: dict[str, Any], template_name: str) -> list[tuple[Any, list[dict[str, Any]]]]:
    groups = []
    for group_name, options, _index in w["optgroups"]:
        for option in options:
            if option["template_name"] != template_name or "items" in option["attrs"]:
                raise _Fallback
        groups.append((group_name, options))
    return groups


def render_select(context: dict[str, Any]) -> str:
    w = _widget(context)
    out = [f'<select name="{_text(w["name"])}"{_attrs(w["attrs"])}>']
    for group_name, options in _options(w, _W + "select_option.html"):
        if group_name:
            out.append(f'\n  <optgroup label="{_text(group_name)}">')
        for o in options:
            out.append(
                f'\n  <option value="{_text_s(o["value"])}"{_attrs(o["attrs"])}>'
                f"{_text(o['label'])}</option>\n"
            )
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>\n")
    return "".join(out)


def _input_option(o: dict[str, Any]) -> str:
    """django/forms/widgets/input_option.html."""
    if not o["wrap_label"]:
        return _input(o) + "\n"
    label_for = f' for="{_text(o["attrs"]["id"])}"' if o["attrs"].get("id") else ""
    return f"<label{label_for}>{_input(o)} {_text(o['label'])}</label>\n"


def render_checkbox_select(context: dict[str, Any]) -> str:
    """django/forms/widgets/checkbox_select.html -> multiple_input.html."""
    w = _widget(context)
    id_ = w["attrs"].get("id")
    css = w["attrs"].get("class")
    out = [
        "<div",
        f' id="{_text(id_)}"' if id_ else "",
        f' class="{_text(css)}"' if css else "",
        ">",
    ]
    for group, options in _options(w, _W + "checkbox_option.html"):
        if group:
            out.append(f"\n  <div><label>{_text(group)}</label>")
        for o in options:
            out.append(f"<div>\n    {_input_option(o)}\n</div>")
        if group:
            out.append("\n  </div>")
    out.append("\n</div>\n")
    return "".join(out)


def render_label(context: dict[str, Any]) -> str:
    """django/forms/label.html (a field's `label_tag`)."""
    if not context["use_tag"]:
        return _text(context["label"]) + "\n"
    attrs = context["attrs"]
    if "items" in attrs:
        raise _Fallback
    tag = _text(context["tag"])
    return f"<{tag}{_attrs(attrs)}>{_text(context['label'])}</{tag}>\n"


def render_hidden_only_form(context: dict[str, Any]) -> str:
    """django/forms/div.html for a form with only hidden fields and no errors (a formset's
    management form): the hidden inputs one after the other."""
    if context["fields"] or context["errors"]:
        raise _Fallback
    return "".join(str(field) for field in context["hidden_fields"])


FAST_TEMPLATES = {
    **{
        _W + name: render_input
        for name in (
            "input.html",
            "text.html",
            "number.html",
            "date.html",
            "email.html",
            "tel.html",
            "url.html",
            "hidden.html",
            "checkbox.html",
            "password.html",
            "time.html",
            "datetime.html",
            "search.html",
        )
    },
    _W + "textarea.html": render_textarea,
    _W + "select.html": render_select,
    _W + "checkbox_select.html": render_checkbox_select,
    "django/forms/label.html": render_label,
    "django/forms/div.html": render_hidden_only_form,
}
# The templates a fast path stands for, in the order the template includes them: if any of them
# is overridden (an installed app's templates/django/forms/...), that fast path is not used.
_SOURCES = {
    _W + "textarea.html": [_W + "textarea.html", _W + "attrs.html"],
    _W + "select.html": [_W + "select.html", _W + "select_option.html", _W + "attrs.html"],
    _W + "checkbox_select.html": [
        _W + "checkbox_select.html",
        _W + "multiple_input.html",
        _W + "checkbox_option.html",
        _W + "input_option.html",
        _W + "input.html",
        _W + "attrs.html",
    ],
    "django/forms/label.html": ["django/forms/label.html", "django/forms/attrs.html"],
    "django/forms/div.html": ["django/forms/div.html"],
}


class FastRenderer(DjangoTemplates):
    """Django's default form renderer, with the simple widget templates written in Python."""

    def __init__(self) -> None:
        self._fast: dict[str, Any] | None = None

    def _fast_paths(self) -> dict[str, Any]:
        if self._fast is None:
            fast = {}
            for name, fn in FAST_TEMPLATES.items():
                sources = _SOURCES.get(name, [name, _W + "input.html", _W + "attrs.html"])
                if all(self._is_djangos(source) for source in sources):
                    fast[name] = fn
            self._fast = fast
        return self._fast

    def _is_djangos(self, template_name: str) -> bool:
        origin = self.get_template(template_name).origin.name
        return Path(origin).is_relative_to(_DJANGO_FORM_TEMPLATES)

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        fast = self._fast_paths().get(template_name)
        if fast is not None and request is None:
            try:
                return SafeString(fast(context).strip())
            except _Fallback:
                pass
        return super().render(template_name, context, request=request)


FAST_RENDERER = FastRenderer()


class SharedChoicesFields(dict[str, Any]):
    """A form class's `base_fields` whose per-form copy shares the choice lists.

    Every form instance deep-copies its class's fields; for a choice field that means copying
    (and re-normalising, for its widget) the whole choice list, which is most of the cost of
    building a row form. The copy made here is Django's `Field.__deepcopy__` and
    `Widget.__deepcopy__` (field, widget and widget attrs, error messages, validators copied)
    with the choice list shared. Forms must therefore replace `field.choices`, never change the
    list in place. Fields or widgets with their own `__deepcopy__` are deep-copied as before.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {name: _field_copy(field, memo) for name, field in self.items()}


_PLAIN_FIELD_COPY = (django.forms.Field.__deepcopy__, django.forms.ChoiceField.__deepcopy__)
_PLAIN_WIDGET_COPY = (
    django.forms.Widget.__deepcopy__,
    django.forms.widgets.ChoiceWidget.__deepcopy__,
)


def _field_copy(field: Any, memo: dict[int, Any]) -> Any:
    if (
        type(field).__deepcopy__ not in _PLAIN_FIELD_COPY
        or type(field.widget).__deepcopy__ not in _PLAIN_WIDGET_COPY
    ):
        return copy.deepcopy(field, memo)
    result = copy.copy(field)
    memo[id(field)] = result
    widget = copy.copy(field.widget)
    widget.attrs = field.widget.attrs.copy()
    memo[id(field.widget)] = widget
    result.widget = widget
    result.error_messages = field.error_messages.copy()
    result.validators = field.validators[:]
    return result


def fast_form[F: type[django.forms.BaseForm]](form_class: F) -> F:
    """Class decorator: render the form with `FAST_RENDERER` and copy its fields cheaply."""
    cls: Any = form_class
    cls.default_renderer = FAST_RENDERER
    cls.base_fields = SharedChoicesFields(cls.base_fields)
    return form_class


def _errors(errors: Any, cls: str) -> str:
    return "".join(f"<p{cls}>{template_text(e)}</p>" for e in errors)


def form_fields(form: django.forms.BaseForm) -> SafeString:
    """`{% include "_form_fields.html" with form=form %}` written in Python, character for
    character (anagen/patients/tests/test_intake_render.py compares the intake page with the
    template's rendering)."""
    out = []
    errors = form.non_field_errors()
    if errors:
        out.append(f'<div class="errors" role="alert">{_errors(errors, "")}</div>')
    out.append("\n")
    alert = ' class="error" role="alert"'
    for field in form.visible_fields():
        widget = field.field.widget
        checkbox = getattr(widget, "input_type", None) == "checkbox"
        errors = field.errors
        has_error = " has-error" if errors else ""
        help_text = (
            f'<small class="help">{template_text(field.help_text)}</small>'
            if field.help_text
            else ""
        )
        if getattr(widget, "allow_multiple_selected", False) and checkbox:
            out.append(
                f'\n\n<fieldset class="field wide{has_error}">\n'
                f"  <legend>{template_text(field.label)}</legend>\n"
                f"  {template_text(field)}\n"
                f"  {help_text}\n"
                f"  {_errors(errors, alert)}\n"
                "</fieldset>\n\n"
            )
        else:
            label = template_text(field.label_tag())
            widget_html = template_text(field)
            drawn = f"{widget_html} {label}" if checkbox else f"{label} {widget_html}"
            out.append(
                f'\n\n<div class="field{has_error}{" check" if checkbox else ""}">\n'
                f"  {drawn}\n"
                f"  {help_text}\n"
                f"  {_errors(errors, alert)}\n"
                "</div>\n\n"
            )
    out.append("\n")
    out.extend(template_text(h) for h in form.hidden_fields())
    out.append("\n")
    return SafeString("".join(out))
