from django.urls import path

from anagen.outcomes import views

P = "patients/<int:patient_id>/"

urlpatterns: list = [
    path(f"{P}outcomes/", views.measurement_list, name="outcomes-measurements"),
    path(f"{P}outcomes/new/", views.measurement_create, name="outcomes-measurement-create"),
    path(f"{P}outcomes/import/", views.import_upload, name="outcomes-import"),
    path(
        f"{P}outcomes/import/<int:batch_id>/",
        views.import_preview,
        name="outcomes-import-preview",
    ),
    path(f"{P}outcomes/progress/", views.progress, name="outcomes-progress"),
    path(f"{P}outcomes/chart.svg", views.progress_chart, name="outcomes-progress-chart"),
    path(f"{P}outcomes/report.pdf", views.report_pdf, name="outcomes-report"),
    path(f"{P}photos/", views.photo_sets, name="outcomes-photos"),
    path(f"{P}photos/<int:set_id>/capture/", views.photo_capture, name="outcomes-photo-capture"),
    path(f"{P}photos/file/<int:photo_id>/", views.photo_file, name="outcomes-photo-file"),
    path(f"{P}photos/compare/", views.photo_compare, name="outcomes-photo-compare"),
    path("outcomes/reports/", views.report_jobs, name="outcomes-report-jobs"),
    path("outcomes/reports/<int:job_id>/", views.report_job, name="outcomes-report-job"),
    path(
        "outcomes/reports/<int:job_id>/<int:file_id>.pdf",
        views.report_file,
        name="outcomes-report-file",
    ),
    path("analytics/", views.analytics, name="outcomes-analytics"),
    path("analytics/chart.svg", views.analytics_chart, name="outcomes-analytics-chart"),
    path("analytics/export.csv", views.analytics_export, name="outcomes-analytics-export"),
    path("ratings/", views.panels, name="outcomes-panels"),
    path("ratings/<int:panel_id>/", views.panel_rate, name="outcomes-panel-rate"),
    path(
        "ratings/<int:panel_id>/<str:code>/<str:side>.jpg",
        views.panel_image,
        name="outcomes-panel-image",
    ),
    path("ratings/<int:panel_id>/results/", views.panel_results, name="outcomes-panel-results"),
]
