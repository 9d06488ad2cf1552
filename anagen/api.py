"""The REST API root at /api/v1/ with OpenAPI docs at /api/v1/docs.

It mounts each app's router; what the routers share (authentication, paging, problem documents
and the mapping of domain errors to status codes) lives in `anagen.interop`, which imports no
app, so the routers and this root import it without a cycle.
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI

from anagen.audit.api import router as audit_router
from anagen.billing.api import router as billing_router
from anagen.care.api import router as care_router
from anagen.interop.auth import ClinicSessionAuth, TokenAuth
from anagen.interop.errors import install_error_handlers
from anagen.interop.glossary import add_examples, describe_fields
from anagen.interop.problems import document_problems
from anagen.interop.render import FastJSONRenderer
from anagen.outcomes.api import router as outcomes_router
from anagen.patients.api import router as patients_router
from anagen.procedures.api import router as procedures_router
from anagen.scheduling.api import router as scheduling_router


class AnagenAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return add_examples(describe_fields(document_problems(schema)))


api = AnagenAPI(
    title="Anagen API",
    version="1",
    description=(
        "Patients and clinical records of the clinic the caller belongs to. Errors are "
        "problem documents (RFC 9457); invalid input lists each field path."
    ),
    auth=[TokenAuth(), ClinicSessionAuth()],
    renderer=FastJSONRenderer(),
    urls_namespace="api-v1",
)
install_error_handlers(api)

api.add_router("/patients", patients_router, tags=["patients"])
api.add_router("/care", care_router, tags=["care"])
api.add_router("/scheduling", scheduling_router, tags=["scheduling"])
api.add_router("/procedures", procedures_router, tags=["procedures"])
api.add_router("/outcomes", outcomes_router, tags=["outcomes"])
api.add_router("/billing", billing_router, tags=["billing"])
api.add_router("/audit", audit_router, tags=["audit"])
