from django.contrib import admin

from tandem.referrals.models import ReferralSettings


@admin.register(ReferralSettings)
class ReferralSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "organization",
        "therapists_may_book",
        "urgent_visit_days",
        "soon_visit_days",
        "routine_visit_days",
        "offer_hours",
        "search_days",
    ]
    list_select_related = ["organization"]
