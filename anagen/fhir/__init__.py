"""FHIR R4 (validated with fhir.resources' R4B models) under /fhir/R4/.

- `metadata`: the CapabilityStatement, built from `selectors.RESOURCES` and `SEARCH_PARAMS`.
- read `/<Type>/<id>` and search `/<Type>?patient=&date=&_count=` (Bundle searchset, paging
  links), every read and search audited; Bulk Data `$export` (system, Group of the clinic,
  Patient) written as NDJSON by the task worker under MEDIA_ROOT/private.
- `build.py` turns rows into resources, `selectors.py` says which rows make each type (through
  the other apps' selectors), `services.py` audits and runs exports, `views.py` answers HTTP.
"""
