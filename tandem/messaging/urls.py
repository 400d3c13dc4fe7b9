from django.urls import path

from tandem.messaging import thread_views, views

app_name = "messaging"

urlpatterns = [
    path("accounts/notifications/", views.preferences, name="preferences"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_read_all, name="inbox_read_all"),
    path("patients/<str:public_id>/thread/", thread_views.thread, name="thread"),
    path("patients/<str:public_id>/thread/consult/", thread_views.consult_new, name="consult_new"),
    path(
        "patients/<str:public_id>/thread/consult/<str:consult_id>/", thread_views.consult_answer, name="consult_answer"
    ),
    path("patients/<str:public_id>/thread/files/<str:attachment_id>/", thread_views.attachment, name="attachment"),
    path("patients/<str:public_id>/thread/<str:message_id>/edit/", thread_views.message_edit, name="message_edit"),
    path(
        "patients/<str:public_id>/thread/<str:message_id>/retract/",
        thread_views.message_retract,
        name="message_retract",
    ),
]
