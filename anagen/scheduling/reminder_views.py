"""Reminder pages: the rules and their messages (with a live preview), and the log of what was
sent to whom. Reads go through selectors, writes through services."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render

from anagen.accounts.access import ClinicRequest
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.scheduling import reminder_text, selectors, services
from anagen.scheduling.models import MAX_LEAD_HOURS, Channel, ReminderRule, ReminderStatus
from anagen.web.forms import attach_errors
from anagen.web.paging import CappedPaginator

LOG_PAGE_SIZE = 25
SMS_SEGMENT_CHARS = 160


def _template_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=reminder_text.MAX_TEMPLATE_CHARS,
        label="Message",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Leave empty for the standard wording. Placeholders: "
        + reminder_text.placeholder_list()
        + ".",
    )


class ReminderRuleForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices)
    lead_hours = forms.IntegerField(
        min_value=1, max_value=MAX_LEAD_HOURS, label="Hours before the appointment"
    )
    template = _template_field()


class RuleMessageForm(forms.Form):
    template = _template_field()


def _message_form(rule: ReminderRule, data: QueryDict | None = None) -> RuleMessageForm:
    return RuleMessageForm(data, prefix=f"rule{rule.pk}", initial={"template": rule.template})


def _preview(template: str, request: ClinicRequest) -> dict[str, object]:
    errors = reminder_text.template_errors(template.strip())
    text = (
        ""
        if errors
        else reminder_text.render(template, selectors.reminder_preview_facts(request.actor))
    )
    segments = -(-len(text) // SMS_SEGMENT_CHARS) if text else 0
    return {"preview_text": text, "preview_errors": errors, "preview_segments": segments}


@clinic_view(Perm.REMINDERS_MANAGE)
def reminder_rules(request: ClinicRequest) -> HttpResponse:
    """Who manages reminders sets when they go out and what they say; the worker sends them."""
    action = request.POST.get("action", "")
    form = ReminderRuleForm(request.POST if action == "add" else None)
    rules = list(selectors.reminder_rules_for(request.actor))
    message_forms = {rule.pk: _message_form(rule) for rule in rules}
    if request.method == "POST":
        if action == "add":
            if form.is_valid():
                try:
                    services.reminder_rule_add(actor=request.actor, **form.cleaned_data)
                except ValidationError as exc:
                    attach_errors(form, exc)
                else:
                    messages.success(request, "Reminder rule added.")
                    return redirect("reminder-rules")
        elif action == "message":
            rule = selectors.reminder_rule_for(request.actor, request.POST.get("rule"))
            bound = _message_form(rule, request.POST)
            message_forms[rule.pk] = bound
            if bound.is_valid():
                try:
                    services.reminder_rule_set_template(
                        actor=request.actor, rule=rule, template=bound.cleaned_data["template"]
                    )
                except ValidationError as exc:
                    attach_errors(bound, exc)
                else:
                    messages.success(request, f"Message of the rule “{rule}” saved.")
                    return redirect("reminder-rules")
        else:
            rule = selectors.reminder_rule_for(request.actor, request.POST.get("rule"))
            services.reminder_rule_set_active(
                actor=request.actor, rule=rule, active=request.POST.get("active") == "1"
            )
            messages.success(request, f"{rule} {'enabled' if rule.is_active else 'disabled'}.")
            return redirect("reminder-rules")
    failed = request.method == "POST"
    rows = [
        {
            "rule": rule,
            "form": message_forms[rule.pk],
            **_preview(message_forms[rule.pk]["template"].value() or "", request),
        }
        for rule in rules
    ]
    return render(
        request,
        "scheduling/reminder_rules.html",
        {
            "form": form,
            "rows": rows,
            "placeholders": reminder_text.PLACEHOLDERS.items(),
            "default_template": reminder_text.DEFAULT_TEMPLATE,
        },
        status=400 if failed else 200,
    )


@clinic_view(Perm.REMINDERS_MANAGE)
def reminder_preview(request: ClinicRequest) -> HttpResponse:
    """The message a template gives for a made-up appointment (htmx partial). Opened as a page
    with nothing to preview, the address leads to the reminder rules, where the preview lives."""
    # htmx sends the textarea under its own name (``rule7-template``, ``template``).
    key = next((k for k in request.GET if k.endswith("template")), "")
    if not key and request.headers.get("HX-Request") != "true":
        return redirect("reminder-rules")
    key = key or "template"
    template = str(request.GET.get(key, ""))[: reminder_text.MAX_TEMPLATE_CHARS + 1]
    return render(request, "scheduling/reminder_rules.html#preview", _preview(template, request))


class ReminderLogFilter(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *ReminderStatus.choices]
    )
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *Channel.choices])


@clinic_view(Perm.REMINDERS_MANAGE)
def reminder_log(request: ClinicRequest) -> HttpResponse:
    """What was sent to whom, when, by which channel, and what failed (newest first)."""
    filters = ReminderLogFilter(request.GET)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    rows = selectors.reminders_sent(
        request.actor, status=chosen.get("status", ""), channel=chosen.get("channel", "")
    )
    page = CappedPaginator(rows, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "scheduling/reminder_log.html",
        {
            "filters": filters,
            "page": page,
            "filtered": bool(chosen.get("status") or chosen.get("channel")),
        },
        status=200 if filters.is_valid() else 400,
    )
