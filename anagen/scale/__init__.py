"""Scale data for benchmarks: a generated clinic of many patients (issue 15).

Every generated patient is a copy of a demo patient whose records the services wrote, with its
dates moved and its bookings moved onto free practitioners, rooms and centrifuges, so the copies
keep every rule the services keep (and the database constraints check the rest).
"""
