from django.contrib import admin

from tandem.credentials import models as m


@admin.register(m.ClinicianProfile)
class ClinicianProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "discipline", "npi"]
    search_fields = ["user__email", "user__full_name", "npi"]


@admin.register(
    m.StateLicense,
    m.CompactPrivilege,
    m.DeaRegistration,
    m.StateControlledSubstanceRegistration,
    m.BoardCertification,
    m.PayerEnrollment,
    m.CollaborationAgreement,
)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ["__str__", "clinician", "status", "expires_on", "verified_at"]
    list_filter = ["status"]
    search_fields = ["clinician__email", "clinician__full_name"]
    raw_id_fields = ["clinician", "verified_by"]
