"""What `/healthz` checks: the database answers a query and no migration is pending."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database(using: str = DEFAULT_DB_ALIAS) -> Check:
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure to reach the database is the answer
        logger.error("Health check: the database does not answer: %s", exc)
        return Check("database", False, "The database does not answer.")
    return Check("database", True, "ok")


def check_migrations(using: str = DEFAULT_DB_ALIAS) -> Check:
    try:
        executor = MigrationExecutor(connections[using])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        logger.error("Health check: migrations could not be read: %s", exc)
        return Check("migrations", False, "The migration state could not be read.")
    if plan:
        logger.error("Health check: %d migrations are not applied", len(plan))
        return Check("migrations", False, f"{len(plan)} migrations are not applied.")
    return Check("migrations", True, "ok")


def run_checks(using: str = DEFAULT_DB_ALIAS) -> list[Check]:
    database = check_database(using)
    if not database.ok:
        return [database, Check("migrations", False, "Not checked: the database does not answer.")]
    return [database, check_migrations(using)]
