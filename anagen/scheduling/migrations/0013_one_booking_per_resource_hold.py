"""One resource booking per resource and visit (issue 15, batch booking).

A booking row used to hold one resource for one phase of a visit (a PRP visit: the room three
rows, cream, draw and spin, injection; the practitioner two; the centrifuge one). It now holds
the resource from the first to the last of its touching phases (``availability.layout``): a PRP
visit is three rows, a mesotherapy or consultation visit two. The busy time is the same, so
every free-slot answer, calendar cell and overlap check is unchanged; the exclusion constraint
probes, index inserts and foreign-key checks per visit are halved.

This migration joins existing rows the same way: the rows of one appointment, one resource and
one ``active`` state that touch or overlap become the earliest of them (its ``phase``, the first
phase covered, and its id kept) ending at the latest end; the others are deleted. Rows with a gap
between stay apart. The earlier rows are deleted before the kept one grows, so PostgreSQL's
exclusion constraint never sees both.

PostgreSQL: three statements over the table (window functions), no row goes through Python.
Other databases: the rows are read in order and joined in Python. Reversing keeps the joined
rows (they are valid bookings under the old code too: a longer hold with its first phase).
"""

from itertools import groupby

from django.db import migrations

TABLE = "scheduling_resourcebooking"

# Each row's group: rows of one (appointment, resource, active) ordered by start; a row starts a
# new group unless it starts at or before the latest end of the rows before it.
_JOIN_SQL = f"""
CREATE TEMPORARY TABLE scheduling_booking_join AS
SELECT id, keep_id, new_end FROM (
    SELECT id,
           first_value(id) OVER g AS keep_id,
           max(ends_at) OVER g AS new_end,
           count(*) OVER g AS n
    FROM (
        SELECT id, appointment_id, resource_id, active, starts_at, ends_at,
               sum(brk) OVER (
                   PARTITION BY appointment_id, resource_id, active ORDER BY starts_at, id
               ) AS grp
        FROM (
            SELECT id, appointment_id, resource_id, active, starts_at, ends_at,
                   CASE WHEN starts_at <= max(ends_at) OVER (
                       PARTITION BY appointment_id, resource_id, active ORDER BY starts_at, id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                   ) THEN 0 ELSE 1 END AS brk
            FROM {TABLE}
        ) r
    ) q
    WINDOW g AS (
        PARTITION BY appointment_id, resource_id, active, grp ORDER BY starts_at, id
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    )
) t
WHERE n > 1
"""


def _join_postgresql(schema_editor) -> None:
    run = schema_editor.execute
    run("SET LOCAL work_mem = '256MB'")
    run(_JOIN_SQL)
    run(
        f"DELETE FROM {TABLE} b USING scheduling_booking_join j "
        "WHERE b.id = j.id AND j.id <> j.keep_id"
    )
    run(
        f"UPDATE {TABLE} b SET ends_at = j.new_end FROM scheduling_booking_join j "
        "WHERE b.id = j.id AND j.id = j.keep_id AND b.ends_at <> j.new_end"
    )
    run("DROP TABLE scheduling_booking_join")


def _join_python(booking_model) -> None:
    rows = (
        booking_model.objects.order_by("appointment_id", "resource_id", "active", "starts_at", "id")
        .values_list("id", "appointment_id", "resource_id", "active", "starts_at", "ends_at")
        .iterator(chunk_size=5000)
    )
    doomed: list[int] = []
    grown: dict[int, object] = {}
    for _key, group in groupby(rows, key=lambda r: (r[1], r[2], r[3])):
        keep_id = None
        keep_end = end = None
        for row_id, _a, _r, _act, starts_at, ends_at in group:
            if keep_id is not None and starts_at <= end:
                doomed.append(row_id)
                end = max(end, ends_at)
                continue
            if keep_id is not None and end != keep_end:
                grown[keep_id] = end
            keep_id, keep_end, end = row_id, ends_at, ends_at
        if keep_id is not None and end != keep_end:
            grown[keep_id] = end
    for i in range(0, len(doomed), 500):
        booking_model.objects.filter(pk__in=doomed[i : i + 500]).delete()
    for row_id, end in grown.items():
        booking_model.objects.filter(pk=row_id).update(ends_at=end)


def join_touching_holds(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _join_postgresql(schema_editor)
    else:
        _join_python(apps.get_model("scheduling", "ResourceBooking"))


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0012_drop_prefix_covered_indexes"),
    ]

    operations = [
        migrations.RunPython(join_touching_holds, migrations.RunPython.noop, elidable=False),
    ]
