"""The fast form renderer writes exactly what Django's widget templates write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.functional import lazy
from django.utils.safestring import mark_safe

from anagen.web import fast_widgets
from anagen.web.fast_widgets import FastRenderer

lazy_str = lazy(lambda s: s, str)


class Recorder(FastRenderer):
    """Renders every template both ways and keeps both strings (and whether the fast path ran)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, str, bool]] = []

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        fast = super().render(template_name, context, request)
        slow = DjangoTemplates.render(self, template_name, context, request)
        ran_fast = template_name in self._fast_paths()
        self.seen.append((template_name, fast, slow, ran_fast))
        return fast


class Everything(forms.Form):
    text = forms.CharField(max_length=20, help_text="Help", label="Text <b>")
    optional = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "tel"}))
    number = forms.DecimalField(max_digits=6, decimal_places=2, min_value=0)
    integer = forms.IntegerField(required=False, widget=forms.NumberInput(attrs={"step": 5}))
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    email = forms.EmailField(required=False)
    secret = forms.CharField(required=False, widget=forms.HiddenInput)
    flag = forms.BooleanField(required=False, label="Flag?")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    choice = forms.ChoiceField(choices=[("", "—"), ("a", "A & B"), ("b", lazy_str("Lazy"))])
    grouped = forms.ChoiceField(
        required=False,
        choices=[("", "—"), ("Group <1>", [("x", "X"), ("y", "Y")]), ("z", "Z")],
    )
    many = forms.MultipleChoiceField(
        required=False,
        choices=[("p", "P"), ("q", 'Q "quoted"'), ("r", "R")],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "cols"}),
    )
    many_grouped = forms.MultipleChoiceField(
        required=False,
        choices=[("G", [("g1", "G1"), ("g2", "G2")]), ("h", "H")],
        widget=forms.CheckboxSelectMultiple,
    )
    multi_select = forms.MultipleChoiceField(required=False, choices=[("1", 1), ("2", 2)])
    odd_attrs = forms.CharField(
        required=False,
        widget=forms.TextInput(
            attrs={
                "data-none": None,
                "data-zero": 0,
                "data-false": False,
                "data-true": True,
                "data-decimal": Decimal("1.50"),
                "data-safe": mark_safe("<i>"),
                "data-quote": "a\"b'c<d>&",
            }
        ),
    )


DATA = {
    "text": "<script>alert('x')</script>",
    "optional": "  spaced  ",
    "number": "-1",
    "integer": "abc",
    "day": "2026-13-40",
    "email": "not an email",
    "secret": 'x"y',
    "flag": "on",
    "notes": 'line 1\n<line 2> & "3"',
    "choice": "nope",
    "grouped": "y",
    "many": ["q", "zz"],
    "many_grouped": ["g2"],
    "multi_select": ["2"],
    "odd_attrs": "",
}
INITIAL = {
    "text": "Tom & Jerry",
    "number": Decimal("12.50"),
    "day": dt.date(2026, 3, 1),
    "flag": True,
    "notes": "",
    "choice": "a",
    "many": ["p", "r"],
    "multi_select": ["1", "2"],
}


def _render_all(form: forms.Form) -> None:
    str(form)  # Django's own layout: every field group, label, help text and error list
    for field in form:
        str(field)
        field.label_tag()
        field.legend_tag()
        field.as_hidden()


@pytest.mark.parametrize(
    "form_kwargs",
    [
        {},
        {"initial": INITIAL},
        {"data": DATA},
        {"data": DATA, "auto_id": False},
        {"initial": INITIAL, "auto_id": "f_%s", "prefix": "p-1"},
        {"data": {**DATA, "flag": "", "many": []}, "initial": INITIAL},
    ],
)
def test_every_widget_renders_as_django_templates_do(form_kwargs):
    renderer = Recorder()
    _render_all(Everything(renderer=renderer, **form_kwargs))
    assert renderer.seen
    for template_name, fast, slow, _ in renderer.seen:
        assert fast == slow, template_name
    used = {name for name, _, _, ran_fast in renderer.seen if ran_fast}
    assert {
        "django/forms/widgets/text.html",
        "django/forms/widgets/select.html",
        "django/forms/widgets/checkbox_select.html",
        "django/forms/widgets/textarea.html",
        "django/forms/label.html",
    } <= used


def test_formset_management_form_and_rows():
    renderer = Recorder()
    formset_cls = forms.formset_factory(Everything, extra=2, can_delete=True, renderer=renderer)
    for data in (
        None,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "0",
            **{f"form-0-{k}": v for k, v in DATA.items()},
        },
        {"form-TOTAL_FORMS": "x"},
    ):
        formset = formset_cls(data)
        str(formset.management_form)
        for form in [*formset.forms, formset.empty_form]:
            _render_all(form)
    for template_name, fast, slow, _ in renderer.seen:
        assert fast == slow, template_name
    assert any(name == "django/forms/div.html" and ran for name, _, _, ran in renderer.seen)


def test_unknown_shapes_fall_back_to_the_template():
    class Radio(forms.Form):
        pick = forms.ChoiceField(choices=[("a", "A")], widget=forms.RadioSelect)
        when = forms.SplitDateTimeField()

    renderer = Recorder()
    _render_all(Radio(renderer=renderer, initial={"pick": "a"}))
    for template_name, fast, slow, _ in renderer.seen:
        assert fast == slow, template_name


def test_callable_attribute_falls_back(monkeypatch):
    widget = forms.TextInput(attrs={"data-x": lambda: "called"})
    renderer = FastRenderer()
    html = widget.render("n", "v", renderer=renderer)
    assert html == widget.render("n", "v", renderer=DjangoTemplates())
    assert 'data-x="called"' in html


def test_an_overridden_template_turns_its_fast_path_off(monkeypatch):
    renderer = FastRenderer()
    monkeypatch.setattr(
        fast_widgets, "_DJANGO_FORM_TEMPLATES", fast_widgets._DJANGO_FORM_TEMPLATES / "elsewhere"
    )
    assert renderer._fast_paths() == {}


def test_fast_form_shares_choice_lists_but_not_fields():
    @fast_widgets.fast_form
    class Fast(Everything):
        pass

    one, two = Fast(initial=INITIAL), Fast(initial=INITIAL)
    assert one.renderer is fast_widgets.FAST_RENDERER
    choice_one: Any = one.fields["choice"]
    choice_two: Any = two.fields["choice"]
    assert choice_one is not choice_two and choice_one.widget is not choice_two.widget
    assert choice_one.choices is choice_two.choices
    one.fields["text"].widget.attrs["data-x"] = "1"
    choice_one.choices = [("only", "Only")]
    one.fields["text"].error_messages["required"] = "changed"
    assert "data-x" not in two.fields["text"].widget.attrs
    assert [c for c, _ in choice_two.choices] == ["", "a", "b"]
    assert [c for c, _ in choice_two.widget.choices] == ["", "a", "b"]
    assert two.fields["text"].error_messages["required"] != "changed"
    # The same HTML as the plain form, field for field.
    plain = Everything(initial=INITIAL)
    assert [str(f) for f in two] == [str(f) for f in plain]
    assert [f.label_tag() for f in two] == [f.label_tag() for f in plain]


class WithFormErrors(Everything):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.add_error(None, "Something <wrong> & more.")
        return data


@pytest.mark.parametrize(
    "form",
    [
        lambda: Everything(initial=INITIAL),
        lambda: Everything(data=DATA),
        lambda: Everything(data={}),
        lambda: WithFormErrors(data=DATA),
        lambda: Everything(data=DATA, auto_id=False),
        lambda: Everything(initial=INITIAL, renderer=DjangoTemplates()),
    ],
)
def test_form_fields_writes_what_the_form_fields_template_writes(form):
    """`form_fields(form)` is `{% include "_form_fields.html" with form=form %}`."""
    from django.template import engines

    template = engines["django"].from_string('{% include "_form_fields.html" with form=form %}')
    shown = form()
    assert fast_widgets.form_fields(shown) == template.render({"form": shown})
