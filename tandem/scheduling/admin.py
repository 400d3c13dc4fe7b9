# Appointments are health information and stay out of Django admin, like
# patients. Appointment types are reference data an organization's back office
# may adjust.
from django.contrib import admin

from tandem.scheduling.models import AppointmentType


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "kind", "minutes", "with_patient", "new_patient", "is_active"]
    list_filter = ["kind", "organization", "is_active"]
