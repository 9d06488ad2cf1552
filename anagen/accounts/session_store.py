"""Database sessions with a shared cache in front (issue 15: the signed-in floor).

Every signed-in request reads its session. Django's `cached_db` engine answers that read from
a cache and writes through to the database; the cache here is a file cache in VAR_DIR that every
worker process on the host shares (settings.CACHES["sessions"]), so signing out, deactivation
(`membership_set_active`) and a two-factor reset (`mfa_reset`), which delete sessions through
this engine, end them at once in every worker. A cached session expires when its row would
(the cache entry's timeout is the session's expiry age, renewed with the row). With several
hosts, point the "sessions" cache at a shared server (Redis, Memcached).

On a cache miss the row is read with one plain SQL statement instead of an ORM query.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import connections, router
from django.utils import timezone
from django.utils.dateparse import parse_datetime


class SessionStore(CachedDbSessionStore):
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
        expires: dt.datetime | None = parse_datetime(row[1]) if isinstance(row[1], str) else row[1]
        if expires is None:
            return None
        if timezone.is_naive(expires):
            expires = timezone.make_aware(expires, dt.UTC)  # SQLite keeps UTC without a zone
        return self.model(session_key=self.session_key, session_data=row[0], expire_date=expires)
