"""Django's database sessions, read with one plain SQL statement (issue 15: the signed-in floor).

Every signed-in request reads its session row: the one query of a bare signed-in request (the
rest of the signed-in context is remembered, anagen/accounts/signed_in.py). Building that read
through the ORM cost more than running it, so the lookup is a fixed statement; saving, expiry
and deleting stay Django's own (SESSION_ENGINE = "anagen.accounts.session_store").
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import connections, router
from django.utils import timezone


class SessionStore(DbSessionStore):
    def _get_session_from_db(self) -> AbstractBaseSession | None:
        if not self.session_key:
            return None
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        table = connection.ops.quote_name(self.model._meta.db_table)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data, expire_date FROM {table} "  # noqa: S608 - fixed table name
                "WHERE session_key = %s AND expire_date > %s",
                [self.session_key, now],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return self.model(session_key=self.session_key, session_data=row[0])
