"""The CapabilityStatement (exactly what this server serves) and the clinic's Group."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from anagen.accounts.access import Actor, patients_for
from anagen.accounts.models import Clinic
from anagen.fhir import build, selectors

FHIR_VERSION = "4.3.0"  # R4B: the models every resource is validated with
BULK = "http://hl7.org/fhir/uv/bulkdata"


def group_id(clinic: Clinic) -> str:
    return f"clinic-{clinic.pk}"


def clinic_group(actor: Actor, rid: str) -> dict[str, Any]:
    """The clinic's patients as a Group (the target of a group-level $export)."""
    if rid != group_id(actor.clinic):
        raise Http404("No such group in this clinic.")
    return build.validated(
        {
            "resourceType": "Group",
            "id": group_id(actor.clinic),
            "type": "person",
            "actual": True,
            "name": f"Patients of {actor.clinic.name}",
            "quantity": patients_for(actor).count(),
        }
    )


def _resource(rtype: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": rtype,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": name, "type": kind, "documentation": doc}
            for name, (kind, doc) in selectors.SEARCH_PARAMS[rtype].items()
        ],
    }
    if rtype == "Patient":
        entry["operation"] = [
            {"name": "export", "definition": f"{BULK}/OperationDefinition/patient-export"}
        ]
    return entry


def served_types() -> list[str]:
    return [*selectors.RESOURCES, "Group"]


def capability_statement(base: str) -> dict[str, Any]:
    resources = [_resource(rtype) for rtype in selectors.RESOURCES]
    resources.append(
        {
            "type": "Group",
            "interaction": [{"code": "read"}],
            "operation": [
                {"name": "export", "definition": f"{BULK}/OperationDefinition/group-export"}
            ],
        }
    )
    return build.validated(
        {
            "resourceType": "CapabilityStatement",
            "id": "anagen",
            "url": f"{base}/metadata",
            "name": "AnagenFHIR",
            "title": "Anagen FHIR server",
            "status": "active",
            "date": "2026-11-30",
            "publisher": "Anagen",
            "kind": "instance",
            "instantiates": [f"{BULK}/CapabilityStatement/bulk-data"],
            "software": {"name": "Anagen"},
            "implementation": {"description": "Anagen clinic records", "url": base},
            "fhirVersion": FHIR_VERSION,
            "format": ["application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": (
                        "Bearer API token scoped to one clinic. Search results page with "
                        "_count (0-200, default 50) and the next link; every read and search "
                        "is audited. $export follows the Bulk Data Access IG v2 "
                        "(Prefer: respond-async; _type, _since, _outputFormat)."
                    ),
                    "security": {
                        "cors": False,
                        "description": "Authorization: Bearer <API token of one clinic>.",
                    },
                    "resource": resources,
                    "operation": [
                        {"name": "export", "definition": f"{BULK}/OperationDefinition/export"}
                    ],
                }
            ],
        }
    )
