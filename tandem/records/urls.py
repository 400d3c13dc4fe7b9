from django.urls import path

from tandem.records import views

app_name = "records"

urlpatterns = [
    path("search/", views.search_view, name="search"),
    path("patients/<str:public_id>/records/new/", views.document_new, name="document_new"),
    path("patients/<str:public_id>/records/<str:document_id>/", views.document_detail, name="document"),
    path("patients/<str:public_id>/records/<str:document_id>/amend/", views.note_amend, name="note_amend"),
    path("patients/<str:public_id>/records/<str:document_id>/history/", views.note_history, name="note_history"),
    path("patients/<str:public_id>/records/<str:document_id>/cosign/", views.note_cosign, name="note_cosign"),
    path("patients/<str:public_id>/notes/new/", views.note_new, name="note_new"),
    path("patients/<str:public_id>/notes/<str:note_id>/", views.note_edit, name="note_edit"),
    path("patients/<str:public_id>/notes/<str:note_id>/autosave/", views.note_autosave, name="note_autosave"),
    path("patients/<str:public_id>/summary.pdf", views.summary_pdf, name="summary_pdf"),
    path("patients/<str:public_id>/psychotherapy-notes/", views.psychotherapy_notes, name="pn_list"),
    path("patients/<str:public_id>/psychotherapy-notes/new/", views.psychotherapy_note_new, name="pn_new"),
    path("patients/<str:public_id>/psychotherapy-notes/<str:note_id>/", views.psychotherapy_note, name="pn"),
]
