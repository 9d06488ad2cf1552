"""FHIR R4: metadata, read and search of every type on the demo clinic, validated with
fhir.resources' R4B models; auth, clinic scoping (404), audit and search parameters."""

from __future__ import annotations

import pytest

from anagen.accounts.models import Membership
from anagen.audit.models import AuditAction, AuditEvent
from anagen.fhir import build, capability, selectors
from anagen.fhir.tests.conftest import LOINC, Fhir, token_for


def test_metadata_lists_exactly_what_is_served(client):
    response = client.get("/fhir/R4/metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    build.validated_model(body)
    rest = body["rest"][0]
    types = [r["type"] for r in rest["resource"]]
    assert types == capability.served_types()
    assert set(types) == {
        "Patient", "Condition", "Observation", "MedicationStatement", "AllergyIntolerance",
        "Procedure", "BiologicallyDerivedProduct", "Consent", "CarePlan", "Appointment",
        "AdverseEvent", "DocumentReference", "Provenance", "Group",
    }  # fmt: skip
    for resource in rest["resource"]:
        params = {p["name"] for p in resource.get("searchParam", [])}
        expected = set(selectors.SEARCH_PARAMS.get(resource["type"], {}))
        assert params == expected
    assert [op["name"] for op in rest["operation"]] == ["export"]


def test_every_type_reads_and_searches_on_the_demo_and_validates(api, demo):
    north, _ = demo
    for rtype in selectors.RESOURCES:
        bundle = api.json(f"/fhir/R4/{rtype}?_count=3")
        assert bundle["type"] == "searchset"
        assert bundle["total"] > 0, f"the demo has no {rtype}"
        assert len(bundle["entry"]) == min(3, bundle["total"])
        for entry in bundle["entry"]:
            assert entry["resource"]["resourceType"] == rtype
        first = bundle["entry"][0]["resource"]
        before = AuditEvent.objects.filter(action=AuditAction.FHIR_READ).count()
        read = api.json(f"/fhir/R4/{rtype}/{first['id']}")
        assert read["id"] == first["id"]
        assert AuditEvent.objects.filter(action=AuditAction.FHIR_READ).count() == before + 1
    # Each source of a multi-source type is reachable (labs, scales, visit and site measures).
    prefixes = {"Observation": {"lab", "scale", "visit", "site"}}
    for rtype, wanted in prefixes.items():
        bundle = api.json(f"/fhir/R4/{rtype}?_count=200")
        seen = {e["resource"]["id"].split("-")[0] for e in bundle["entry"]}
        while len(seen) < len(wanted) and any(
            link["relation"] == "next" for link in bundle["link"]
        ):
            nxt = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
            bundle = api.json(nxt)
            seen |= {e["resource"]["id"].split("-")[0] for e in bundle["entry"]}
        assert seen == wanted
    group = api.json(f"/fhir/R4/Group/clinic-{north.pk}")
    assert group["quantity"] > 0


def test_codes_conditions_and_labs(api):
    conditions = api.json("/fhir/R4/Condition?_count=200")["entry"]
    systems = {c["system"] for e in conditions for c in e["resource"]["code"].get("coding", [])}
    assert {"http://hl7.org/fhir/sid/icd-10", "http://snomed.info/sct"} <= systems
    labs = api.json("/fhir/R4/Observation?_count=200")["entry"]
    lab_codes = [e["resource"] for e in labs if e["resource"]["id"].startswith("lab-")]
    platelets = [
        o
        for o in lab_codes
        if o["code"]["coding"][0] == {**o["code"]["coding"][0], "system": LOINC, "code": "777-3"}
    ]
    assert platelets
    assert platelets[0]["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert platelets[0]["valueQuantity"]["code"] == "/uL"


def test_prp_product_has_counts_and_classifications(api):
    bundle = api.json("/fhir/R4/BiologicallyDerivedProduct?_count=200")
    classified = None
    for entry in bundle["entry"]:
        exts = entry["resource"].get("extension", [])
        if sum(e["url"].endswith("prp-classification") for e in exts) == 4:
            classified = entry["resource"]
            break
    assert classified is not None
    bdp = api.json(f"/fhir/R4/BiologicallyDerivedProduct/{classified['id']}")
    counts = {}
    for ext in bdp["extension"]:
        if ext["url"].endswith("/prp-count"):
            parts = {e["url"]: e for e in ext["extension"]}
            code = parts["analyte"]["valueCoding"]["code"]
            counts[(parts["sample"]["valueCode"], code)] = parts["value"]["valueQuantity"]
    assert ("prp", "74775-8") in counts  # PRP platelets, LOINC 74775-8
    assert counts[("prp", "74775-8")]["code"] == "/uL"
    assert counts[("prp", "74775-8")]["value"] > 0
    schemes = {
        c["system"].rsplit("/", 1)[-1]
        for ext in bdp["extension"]
        if ext["url"].endswith("/prp-classification")
        for c in ext["valueCodeableConcept"]["coding"]
    }
    assert schemes == {"prp-paw", "prp-depa", "prp-mishra", "prp-dohan-ehrenfest"}
    assert ("whole-blood", "777-3") in counts  # baseline platelets, LOINC 777-3
    assert bdp["processing"] and "Centrifugation" in bdp["processing"][0]["description"]
    assert bdp["collection"]["source"]["reference"].startswith("Patient/")
    volumes = {e["url"].rsplit("/", 1)[-1] for e in bdp["extension"] if "valueQuantity" in e}
    assert {"prp-blood-volume", "prp-volume"} <= volumes


def test_another_clinics_resources_are_404(api, demo):
    _, river = demo
    river_api = Fhir(token_for("river.physician", river))
    for rtype in ("Patient", "Procedure", "BiologicallyDerivedProduct", "Observation"):
        theirs = river_api.json(f"/fhir/R4/{rtype}?_count=1")["entry"][0]["resource"]["id"]
        outcome = api.json(f"/fhir/R4/{rtype}/{theirs}", status=404)
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "not-found"
    their_patient = river_api.json("/fhir/R4/Patient?_count=1")["entry"][0]["resource"]["id"]
    empty = api.json(f"/fhir/R4/Condition?patient=Patient/{their_patient}")
    assert empty["total"] == 0
    api.json(f"/fhir/R4/Group/clinic-{river.pk}", status=404)
    api.json("/fhir/R4/Patient/not-a-number", status=404)
    api.json("/fhir/R4/Medication/1", status=404)


def test_auth_and_permissions(demo, client):
    north, _ = demo
    response = client.get("/fhir/R4/Patient")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    build.validated_model(response.json())
    Fhir("not-a-token").json("/fhir/R4/Patient", status=401)
    desk = Fhir(token_for("north.frontdesk", north))
    assert desk.json("/fhir/R4/Patient", status=403)["issue"][0]["code"] == "forbidden"


def test_search_by_patient_date_and_paging(api):
    patients = api.json("/fhir/R4/Patient?_count=2")
    assert patients["total"] > 2
    nxt = next(link["url"] for link in patients["link"] if link["relation"] == "next")
    assert "_count=2" in nxt and "_offset=2" in nxt
    page2 = api.json(nxt)
    assert {e["resource"]["id"] for e in page2["entry"]}.isdisjoint(
        {e["resource"]["id"] for e in patients["entry"]}
    )
    self_link = next(link["url"] for link in patients["link"] if link["relation"] == "self")
    assert self_link.startswith("http://testserver/fhir/R4/Patient?")

    procs = api.json("/fhir/R4/Procedure?_count=200")
    patient_id = procs["entry"][0]["resource"]["subject"]["reference"].split("/")[1]
    mine = api.json(f"/fhir/R4/Procedure?patient={patient_id}&_count=200")
    assert mine["total"] >= 1
    assert {e["resource"]["subject"]["reference"] for e in mine["entry"]} == {
        f"Patient/{patient_id}"
    }
    same = api.json(f"/fhir/R4/Procedure?patient=Patient/{patient_id}&_count=200")
    assert same["total"] == mine["total"]

    starts = sorted(e["resource"]["performedPeriod"]["start"][:10] for e in procs["entry"])
    middle = starts[len(starts) // 2]
    ge = api.json(f"/fhir/R4/Procedure?date=ge{middle}&_count=0")["total"]
    lt = api.json(f"/fhir/R4/Procedure?date=lt{middle}&_count=0")["total"]
    assert ge + lt == procs["total"] and ge > 0
    window = api.json(f"/fhir/R4/Procedure?date=ge{middle}&date=le{middle}&_count=200")
    assert window["total"] >= 1
    births = api.json("/fhir/R4/Patient?birthdate=le1990-12-31&_count=200")
    assert all(e["resource"]["birthDate"] <= "1990-12-31" for e in births["entry"])


@pytest.mark.parametrize(
    "query",
    [
        "Procedure?date=2026-13-01",
        "Procedure?date=sa2026-01-01",
        "Procedure?_count=1000",
        "Procedure?_count=x",
        "Procedure?colour=blue",
        "Patient?date=2026",
    ],
)
def test_bad_search_parameters_are_400(api, query):
    outcome = api.json(f"/fhir/R4/{query}", status=400)
    assert outcome["issue"][0]["code"] == "invalid"


def test_searches_are_audited_per_patient(api):
    before = AuditEvent.objects.filter(action=AuditAction.FHIR_SEARCH).count()
    bundle = api.json("/fhir/R4/Patient?_count=4")
    after = AuditEvent.objects.filter(action=AuditAction.FHIR_SEARCH)
    assert after.count() == before + 4
    event = after.order_by("-id").first()
    assert event is not None
    assert event.via == "api" and event.patient_id is not None
    assert str(event.patient_id) in {e["resource"]["id"] for e in bundle["entry"]}


def test_photos_only_with_photo_consent(api, demo):
    from anagen.accounts.access import Actor
    from anagen.care.selectors import patient_ids_with_valid_consent

    north, _ = demo
    membership = Membership.objects.get(user__username="north.physician", clinic=north)
    allowed = patient_ids_with_valid_consent(Actor(membership.user, membership), "photo_clinical")
    docs = api.json("/fhir/R4/DocumentReference?_count=200")
    photos = [e["resource"] for e in docs["entry"] if e["resource"]["id"].startswith("photo-")]
    for photo in photos:
        assert int(photo["subject"]["reference"].split("/")[1]) in allowed


def test_photos_leave_the_api_when_photo_consent_is_withdrawn(api, demo):
    from anagen.accounts.access import Actor
    from anagen.care.selectors import consent_valid_for
    from anagen.care.services import consent_withdraw
    from anagen.patients.models import Patient

    north, _ = demo
    docs = api.json("/fhir/R4/DocumentReference?_count=200")
    photo = next(e["resource"] for e in docs["entry"] if e["resource"]["id"].startswith("photo-"))
    patient_id = photo["subject"]["reference"].split("/")[1]
    api.json(f"/fhir/R4/DocumentReference/{photo['id']}")
    patient = Patient.objects.get(pk=patient_id)
    consent = consent_valid_for(patient, "photo_clinical")
    assert consent is not None
    membership = Membership.objects.get(user__username="north.physician", clinic=north)
    consent_withdraw(
        actor=Actor(membership.user, membership), consent=consent, reason="Patient asked us to."
    )
    api.json(f"/fhir/R4/DocumentReference/{photo['id']}", status=404)
    left = api.json(f"/fhir/R4/DocumentReference?patient={patient_id}&_count=200")
    assert not [e for e in left.get("entry", []) if e["resource"]["id"].startswith("photo-")]
    # The withdrawn consent itself is still served, as inactive.
    withdrawn = api.json(f"/fhir/R4/Consent/{consent.pk}")
    assert withdrawn["status"] == "inactive"
    assert withdrawn["provision"]["type"] == "deny"
