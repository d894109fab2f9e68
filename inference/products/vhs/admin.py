"""Staff views of VHS patients and their measurement history (read-only: the API writes them)."""

from django.contrib import admin

from inference.products.vhs.models import Measurement, Patient, PopSession


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


@admin.register(PopSession)
class PopSessionAdmin(ReadOnlyAdmin):
    """PoP capture sessions as the API left them (read-only; never the frames' pixels)."""

    list_display = (
        "session_id",
        "customer",
        "status",
        "error",
        "frames_processed",
        "good_frames",
        "consecutive_failures",
        "created_at",
    )
    list_filter = ("status", "error", "customer")
    search_fields = ("session_id", "uuid", "customer__name")
    date_hierarchy = "created_at"
    fields = (
        "session_id",
        "customer",
        "api_key",
        "status",
        "error",
        "uuid",
        "created_at",
        "expires_at",
        "finished_at",
        "frames_processed",
        "good_frames",
        "consecutive_failures",
        "frame_codes",
        "best_frame_index",
        "good_results",
        "model_version",
        "lease_until",
    )
    readonly_fields = fields
