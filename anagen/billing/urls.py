from django.urls import path

from anagen.billing import views

urlpatterns = [
    path("billing/", views.billing_home, name="billing-home"),
    path("billing/prices/", views.price_list, name="billing-prices"),
    path("billing/reports/", views.reports, name="billing-reports"),
    path("billing/settings/", views.billing_settings, name="billing-settings"),
    path(
        "patients/<int:patient_id>/billing/quotes/new/", views.quote_new, name="billing-quote-new"
    ),
    path("billing/quotes/<int:quote_id>/", views.quote_detail, name="billing-quote"),
    path("billing/quotes/<int:quote_id>/send/", views.quote_send, name="billing-quote-send"),
    path("billing/quotes/<int:quote_id>/accept/", views.quote_accept, name="billing-quote-accept"),
    path(
        "billing/quotes/<int:quote_id>/invoice/", views.quote_invoice, name="billing-quote-invoice"
    ),
    path("billing/invoices/<int:invoice_id>/pdf/", views.invoice_pdf, name="billing-invoice-pdf"),
    path("patients/<int:patient_id>/billing/", views.patient_billing, name="billing-patient"),
    path(
        "patients/<int:patient_id>/billing/invoices/new/",
        views.invoice_new,
        name="billing-invoice-new",
    ),
    path(
        "patients/<int:patient_id>/billing/packages/sell/",
        views.package_sell,
        name="billing-package-sell",
    ),
    path(
        "patients/<int:patient_id>/billing/payments/new/",
        views.payment_on_account,
        name="billing-payment-on-account",
    ),
    path("billing/invoices/<int:invoice_id>/", views.invoice_detail, name="billing-invoice"),
    path(
        "billing/invoices/<int:invoice_id>/lines/",
        views.invoice_line_add,
        name="billing-invoice-line-add",
    ),
    path(
        "billing/invoices/<int:invoice_id>/lines/<int:line_id>/remove/",
        views.invoice_line_remove,
        name="billing-invoice-line-remove",
    ),
    path(
        "billing/invoices/<int:invoice_id>/issue/",
        views.invoice_issue,
        name="billing-invoice-issue",
    ),
    path("billing/invoices/<int:invoice_id>/pay/", views.invoice_pay, name="billing-invoice-pay"),
    path(
        "billing/invoices/<int:invoice_id>/credit/",
        views.invoice_credit,
        name="billing-invoice-credit",
    ),
    path(
        "billing/packages/<int:sale_id>/freeze/",
        views.package_freeze,
        name="billing-package-freeze",
    ),
    path(
        "billing/packages/<int:sale_id>/transfer/",
        views.package_transfer,
        name="billing-package-transfer",
    ),
    path(
        "billing/packages/<int:sale_id>/refund/",
        views.package_refund,
        name="billing-package-refund",
    ),
    path(
        "billing/payments/<int:payment_id>/refund/",
        views.payment_refund,
        name="billing-payment-refund",
    ),
]
