"""Staff views of VHS patients and their measurement history (read-only: the API writes them)."""

from django.contrib import admin

from inference.products.vhs.models import Measurement, Patient


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MeasurementInline(admin.TabularInline):
    model = Measurement
    extra = 0
    can_delete = False
    fields = ("measured_at", "vhs", "vlas", "result_code", "model_version", "request_id")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(ReadOnlyAdmin):
    list_display = ("uuid", "customer", "created_at", "measurement_count")
    list_filter = ("customer",)
    search_fields = ("uuid", "customer__name")
    inlines = [MeasurementInline]

    @admin.display(description="measurements")
    def measurement_count(self, patient: Patient) -> int:
        return patient.measurements.count()


@admin.register(Measurement)
class MeasurementAdmin(ReadOnlyAdmin):
    list_display = ("measured_at", "patient", "vhs", "vlas", "result_code", "model_version")
    list_filter = ("result_code", "patient__customer", "model_version")
    search_fields = ("patient__uuid", "patient__customer__name", "request_id")
    date_hierarchy = "measured_at"
