from django.urls import path

from anagen.scheduling import operations_views, reminder_views, views

urlpatterns = [
    path("patients/<int:patient_id>/plan/new/", views.plan_new, name="plan-new"),
    path(
        "patients/<int:patient_id>/appointments/new/",
        views.appointment_new,
        name="appointment-new",
    ),
    path("plans/<int:plan_id>/", views.plan_detail, name="plan-detail"),
    path("appointments/<int:appointment_id>/", views.appointment_detail, name="appointment-detail"),
    path(
        "appointments/<int:appointment_id>/move/",
        views.appointment_move,
        name="appointment-move",
    ),
    path(
        "appointments/<int:appointment_id>/status/",
        views.appointment_status,
        name="appointment-status",
    ),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/slot/", views.calendar_slot, name="calendar-slot"),
    path("calendar/closures/", views.closures, name="calendar-closures"),
    path("calendar/feeds/", views.feed_list, name="calendar-feeds"),
    path("calendar/feed/<str:token>.ics", views.calendar_feed, name="calendar-feed"),
    path("scheduling/resources/", views.resource_list, name="resource-list"),
    path("scheduling/reminders/", reminder_views.reminder_rules, name="reminder-rules"),
    path(
        "scheduling/reminders/preview/",
        reminder_views.reminder_preview,
        name="reminder-preview",
    ),
    path("scheduling/reminders/log/", reminder_views.reminder_log, name="reminder-log"),
    path("analytics/operations/", operations_views.operations_page, name="operations-analytics"),
    path(
        "scheduling/resources/<int:resource_id>/",
        views.resource_detail,
        name="resource-detail",
    ),
]
