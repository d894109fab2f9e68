"""Staff views of VHS patients and their measurement history (read-only: the API writes them).

Measurements show the AI's values beside the standing staff correction, and the changelist
opens with how often and by how much the AI was corrected (``corrections.correction_summary``
over the rows the filters select).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from inference.products.vhs.corrections import correction_summary
from inference.products.vhs.models import Correction, Measurement, Patient, PopSession


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


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


class CorrectionInline(admin.TabularInline):
    model = Correction
    extra = 0
    can_delete = False
    fields = ("corrected_at", "corrected_by", "api_key", "vhs", "vlas", "axes_perpendicular")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Measurement)
class MeasurementAdmin(ReadOnlyAdmin):
    list_display = (
        "measured_at",
        "patient",
        "ai_vhs",
        "corrected_vhs",
        "delta_vhs",
        "ai_vlas",
        "corrected_vlas",
        "delta_vlas",
        "result_code",
        "model_version",
    )
    list_filter = ("result_code", "patient__customer", "model_version")
    search_fields = ("patient__uuid", "patient__customer__name", "request_id")
    date_hierarchy = "measured_at"
    inlines = [CorrectionInline]
    change_list_template = "vhs/admin/measurement_change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Measurement]:
        return super().get_queryset(request).prefetch_related("corrections")

    @admin.display(description="AI VHS", ordering="vhs")
    def ai_vhs(self, measurement: Measurement) -> float:
        return measurement.vhs

    @admin.display(description="AI VLAS", ordering="vlas")
    def ai_vlas(self, measurement: Measurement) -> float | None:
        return measurement.vlas

    @admin.display(description="corrected VHS")
    def corrected_vhs(self, measurement: Measurement) -> float | str:
        latest = measurement.latest_correction
        return latest.vhs if latest else "-"

    @admin.display(description="ΔVHS")
    def delta_vhs(self, measurement: Measurement) -> str:
        latest = measurement.latest_correction
        return _signed(latest.delta_vhs) if latest else "-"

    @admin.display(description="corrected VLAS")
    def corrected_vlas(self, measurement: Measurement) -> float | str:
        latest = measurement.latest_correction
        return latest.vlas if latest else "-"

    @admin.display(description="ΔVLAS")
    def delta_vlas(self, measurement: Measurement) -> str:
        latest = measurement.latest_correction
        return _signed(latest.delta_vlas) if latest else "-"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # not a redirect: summarise what the filters selected
            response.context_data["correction_summary"] = correction_summary(
                changelist.queryset.order_by()
            )
        return response


@admin.register(Correction)
class CorrectionAdmin(ReadOnlyAdmin):
    """Staff corrections of the AI's landmarks (the API writes them)."""

    list_display = (
        "corrected_at",
        "measurement",
        "ai_vhs",
        "vhs",
        "ai_vlas",
        "vlas",
        "corrected_by",
    )
    list_filter = ("measurement__patient__customer",)
    search_fields = ("measurement__patient__uuid", "corrected_by")
    date_hierarchy = "corrected_at"
    list_select_related = ("measurement__patient__customer",)

    @admin.display(description="AI VHS")
    def ai_vhs(self, correction: Correction) -> float:
        return correction.measurement.vhs

    @admin.display(description="AI VLAS")
    def ai_vlas(self, correction: Correction) -> float | None:
        return correction.measurement.vlas


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
