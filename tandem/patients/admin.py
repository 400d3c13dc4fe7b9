# Patients are deliberately absent from Django admin: every read of health
# information goes through the access policy and the audit trail, which admin
# would bypass. Only reference data lives here.
from django.contrib import admin

from tandem.patients.models import Payer


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name"]
