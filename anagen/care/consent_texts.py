"""Default consent texts (version 1 of each kind), shared by clinics until they publish their own.

Risks follow reference/clinical-facts.md §7 (adverse events) and §8 (mesotherapy); clinics are
expected to adapt the wording with their own lawyers and publish a new version.
"""

from __future__ import annotations

_PRP_COMMON = """\
What happens: a small amount of my blood is drawn, spun in a centrifuge to concentrate the \
platelets, and the platelet-rich plasma (PRP) is injected into the treatment area. A numbing \
cream or local anaesthetic may be used.

Expected benefit: results vary. Studies show on average a modest gain that is not guaranteed, \
and several sessions followed by maintenance sessions are usually needed. Some people do not \
respond.

Risks I have been told about: pain during the injections (the most common), swelling, redness, \
headache, pinpoint bleeding and bruising at the injection or blood-draw sites, temporary \
tightness or itching; rarely infection or an allergic reaction.

Before treatment I have told the clinic about my medicines (including anticoagulants, aspirin, \
anti-inflammatories and steroids), blood disorders, infections, cancer, pregnancy or \
breastfeeding. I will not stop a prescribed medicine without my prescriber's agreement.

I may ask questions at any time and may withdraw this consent at any time without affecting the \
rest of my care."""

_MESO_COMMON = """\
What happens: small amounts of a product are injected into the skin (mesotherapy), by hand or \
with an injection device, over several sessions. The product, its batch (lot) number, the vial \
type and the practitioner are recorded for every session.

Expected benefit: evidence for many mesotherapy products is limited or conflicting; results are \
not guaranteed.

Risks I have been told about: pain, redness, swelling, bruising and small lumps at the injection \
sites; rarely a serious skin infection (including atypical mycobacteria) that can appear 1 to 12 \
weeks later and may need long antibiotic treatment and leave scars; rarely an allergic reaction \
or hair loss. I will contact the clinic promptly about any lump, wound or redness that does not \
settle.

I may withdraw this consent at any time without affecting the rest of my care."""

_PHOTO_COMMON = """\
Photographs are taken with the same views, lighting and distance each time. They are stored \
securely in my clinical record and are never sold. I may withdraw this consent at any time; \
photographs already used as described below cannot always be recalled, but will not be used \
again."""

DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    "prp_scalp": (
        "Consent to platelet-rich plasma (PRP) treatment of the scalp",
        "I agree to PRP injections into my scalp for hair loss.\n\n" + _PRP_COMMON,
    ),
    "prp_face": (
        "Consent to platelet-rich plasma (PRP) treatment of the face",
        "I agree to PRP injections into the skin of my face.\n\n"
        + _PRP_COMMON
        + "\n\nFacial injections carry an additional very rare risk: a blood vessel can be "
        "blocked, which near the eyes can cause permanent loss of vision.",
    ),
    "mesotherapy_scalp": (
        "Consent to mesotherapy of the scalp",
        "I agree to mesotherapy injections into my scalp.\n\n" + _MESO_COMMON,
    ),
    "mesotherapy_face": (
        "Consent to mesotherapy of the face",
        "I agree to mesotherapy injections into the skin of my face.\n\n" + _MESO_COMMON,
    ),
    "mesotherapy_body": (
        "Consent to mesotherapy of the body",
        "I agree to mesotherapy injections into the areas of my body agreed with the clinician. "
        "Injectable fat-dissolving products are not approved for body contouring; the clinician "
        "has explained the product proposed and its regulatory status.\n\n" + _MESO_COMMON,
    ),
    "photo_clinical": (
        "Consent to clinical photographs for my record",
        "I agree that photographs of the treatment area are taken and kept in my clinical record "
        "to plan and follow my treatment. Only clinic staff involved in my care see them.\n\n"
        + _PHOTO_COMMON,
    ),
    "photo_teaching": (
        "Consent to the use of my photographs for teaching",
        "I agree that my clinical photographs may be shown, without my name, for the education "
        "of doctors and nurses (lectures, training, professional publications). My face will "
        "be masked where it is not part of the treatment area.\n\n" + _PHOTO_COMMON,
    ),
    "photo_marketing": (
        "Consent to the use of my photographs for marketing",
        "I agree that my photographs may be used by the clinic in its advertising, website and "
        "social media. This is separate from my treatment: saying no does not affect my care.\n\n"
        + _PHOTO_COMMON,
    ),
}
