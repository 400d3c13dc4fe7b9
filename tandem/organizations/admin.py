from django.contrib import admin

from tandem.organizations.models import Membership, Organization, Partnership


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "timezone", "notes_need_cosignature"]
    fields = [
        "name",
        "slug",
        "kind",
        "timezone",
        "states",
        "treatment_sharing_requires_authorization",
        "notes_need_cosignature",
        "instruments_off",
    ]
    list_filter = ["kind"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "supervisor", "is_active"]
    list_filter = ["role", "is_active", "organization"]
    search_fields = ["user__email", "user__full_name"]
    autocomplete_fields = ["user", "organization", "supervisor"]


@admin.register(Partnership)
class PartnershipAdmin(admin.ModelAdmin):
    list_display = ["practice", "group", "starts_on", "ends_on"]
    autocomplete_fields = ["practice", "group"]
