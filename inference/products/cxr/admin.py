"""Staff views of analysed chest X-ray studies (read-only: the API writes them)."""

from django.contrib import admin

from inference.products.cxr.models import Study


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("analysed_at", "customer", "patient_id", "result", "present", "model_version")
    list_filter = ("result", "customer", "model_version")
    search_fields = ("patient_id", "sop_instance_uid", "customer__name", "request_id")
    date_hierarchy = "analysed_at"
    readonly_fields = [field.name for field in Study._meta.fields]

    @admin.display(description="findings present")
    def present(self, study: Study) -> str:
        return ", ".join(study.present_findings) or "none"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
