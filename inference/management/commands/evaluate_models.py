"""``python manage.py evaluate_models PRODUCT [--n-per-class N] [--seed S] [--json] [--pop]
[--n-agreement N] [--plots DIR]``.

Measures the model store's weights on held-out phantoms (seeds the training never draws),
through the same runtime and pipeline a worker serves with, and prints what
docs/models.md publishes (accuracy and confusion matrix, measurement errors, or per-finding
AUROC and localisation) as Markdown, or the raw figures with ``--json``.  ``--plots DIR``
writes the product's plots (its evaluation module's ``write_plots``) as PNGs there; they
need matplotlib, a development dependency, checked before the evaluation starts.
"""

import inspect
import json
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.management.commands._products import add_product_argument, reference_models
from inference.runtime.manifest import ManifestError, read_manifest, verify_file
from inference.runtime.product import products
from inference.runtime.serving import ProductRuntime


class Command(BaseCommand):
    help = "Evaluate a product's models on held-out phantoms."

    def add_arguments(self, parser: CommandParser) -> None:
        add_product_argument(parser)
        meanings = "; ".join(
            f"{config.product}: {config.reference_models.n_meaning}"
            for config in products()
            if config.reference_models
        )
        parser.add_argument("--n-per-class", type=int, default=500, help=f"How many ({meanings}).")
        parser.add_argument("--seed", type=int, default=20261125)
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print the raw result as JSON."
        )
        parser.add_argument(
            "--pop",
            action="store_true",
            help="vhs: the picture-of-picture pipeline (N photos per scene family).",
        )
        parser.add_argument(
            "--n-agreement",
            type=int,
            default=None,
            help="vhs: phantoms in the agreement set (default 200; 0 leaves it out).",
        )
        parser.add_argument(
            "--plots", type=Path, default=None, help="Write the product's plots as PNGs here."
        )

    def handle(
        self,
        product: str,
        n_per_class: int,
        seed: int,
        as_json: bool,
        pop: bool = False,
        n_agreement: int | None = None,
        plots: Path | None = None,
        **options: object,
    ) -> None:
        declaration, reference = reference_models(product)
        evaluation = reference.evaluation_module()
        if pop and not hasattr(evaluation, "evaluate_pop"):
            raise CommandError(f"{product} has no picture-of-picture evaluation")
        extra: dict[str, int] = {}
        if n_agreement is not None:
            if pop or "n_agreement" not in inspect.signature(evaluation.evaluate).parameters:
                raise CommandError(f"--n-agreement: {product} has no agreement set here")
            if n_agreement < 0:
                raise CommandError("--n-agreement must be 0 or more")
            extra["n_agreement"] = n_agreement
        if plots is not None:
            _check_plots(product, evaluation, pop)
        try:
            manifest = read_manifest(settings.MODEL_STORE, product)
        except ManifestError as exc:
            raise CommandError(str(exc)) from exc
        problems = [p for role in manifest.files if (p := verify_file(manifest, role))]
        if problems:
            raise CommandError("; ".join(problems))
        runtime = ProductRuntime(declaration)
        if not runtime.load():
            raise CommandError(f"{product} models did not load: {runtime.status()['reason']}")
        if pop and not runtime.available("pop"):
            raise CommandError(f"{product} PoP models did not load: {runtime.status()['reason']}")
        try:
            if pop:
                result = evaluation.evaluate_pop(runtime, n_per_class, seed)
            else:
                # n: per class, or radiographs and as many non-radiographs (n_meaning).
                result = evaluation.evaluate(runtime, n_per_class, seed, **extra)
        finally:
            runtime.unload()
        result["model_version"] = manifest.model_version
        result["seed"] = seed
        samples = result.pop("samples", None)  # per-phantom pairs: for the plots only
        if plots is not None:
            written = evaluation.write_plots({**result, "samples": samples}, plots)
            for path in written:
                self.stderr.write(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
        if as_json:
            self.stdout.write(json.dumps(result, indent=2))
        elif pop:
            self.stdout.write(format_pop(result))
        else:
            if "confusion" in result:
                self.stdout.write(format_classification(result))
            elif "rejection" in result:
                self.stdout.write(format_measurement(result))
            elif "localisation" in result:
                self.stdout.write(format_findings(result))
            else:  # a product without a Markdown report of its own: its figures as JSON
                self.stdout.write(json.dumps(result, indent=2))


def _check_plots(product: str, evaluation: object, pop: bool) -> None:
    """Refuse ``--plots`` before a long evaluation: no plots for this product, or no
    matplotlib."""
    from inference.evaluation_plots import PlottingUnavailable, require

    if pop or not hasattr(evaluation, "write_plots"):
        raise CommandError(f"--plots: {product} has no plots" + (" for --pop" if pop else ""))
    try:
        require()
    except PlottingUnavailable as exc:
        raise CommandError(str(exc)) from exc


def format_classification(result: dict) -> str:
    """A Markdown report of a classification evaluation."""
    labels = result["confusion"]["labels"]
    lines = [
        f"Model {result['model_version']}: {result['n']} held-out phantoms (seed {result['seed']})",
        "",
        f"Accuracy: {result['accuracy']:.4f}",
        "",
        "| class | precision | recall | n |",
        "|---|---|---|---|",
    ]
    for label in labels:
        row = result["per_class"][label]
        lines.append(f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} | {row['n']} |")
    lines += ["", "Confusion matrix (rows: true class, columns: predicted):", ""]
    lines.append("| true \\ predicted | " + " | ".join(labels) + " |")
    lines.append("|---" * (len(labels) + 1) + "|")
    for label, row in zip(labels, result["confusion"]["matrix"], strict=True):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    calibration = result.get("calibration")
    if calibration:
        lines += [
            "",
            f"Expected calibration error: {_fixed(calibration['ece'], 4)} "
            f"({calibration['bins']} equal-width bins of the top-class confidence)",
            "",
            "| confidence_level | n | accuracy |",
            "|---|---|---|",
        ]
        for level, row in result["by_confidence_level"].items():
            lines.append(f"| {level} | {row['n']} | {_percent(row['accuracy'])} |")
    return "\n".join(lines)


def format_measurement(result: dict) -> str:
    """A Markdown report of a landmark/measurement evaluation (VHS)."""
    rejection, visibility = result["rejection"], result["visibility"]
    lines = [
        f"Model {result['model_version']}: {result['n']} held-out radiograph phantoms and "
        f"{result['n']} non-radiographs (seed {result['seed']})",
        "",
        "| measure | value |",
        "|---|---|",
        f"| phantoms measured (VHS) | {result['n_vhs_measured']} |",
        f"| VHS mean absolute error | {result['vhs_mae']:.3f} |",
        f"| VHS within ±0.5 | {result['vhs_within_0_5']:.1%} |",
        f"| VLAS mean absolute error | {result['vlas_mae']:.3f} |",
        f"| VLAS within ±0.5 | {result['vlas_within_0_5']:.1%} |",
        f"| mean landmark error (original px) | {result['landmark_error_px_mean']:.1f} |",
        f"| measurable VHS declined (code 0/5) | {visibility['vhs_declined_rate']:.1%} |",
        f"| measurable VLAS not reported | {visibility['vlas_declined_rate']:.1%} |",
        f"| hidden atrium reported as code 4 | {visibility['hidden_atrium_code_4_rate']:.1%} |",
        f"| cut-off heart or spine reported as code 5 | {visibility['cropped_code_5_rate']:.1%} |",
        f"| rejection accuracy | {rejection['accuracy']:.1%} |",
        f"| radiographs wrongly rejected | {rejection['false_reject_rate']:.1%} |",
        f"| non-radiographs wrongly accepted | {rejection['false_accept_rate']:.1%} |",
        "",
        "Rejection accuracy by kind: "
        + ", ".join(f"{kind} {value:.1%}" for kind, value in rejection["by_kind"].items()),
        "",
        "Result codes on accepted radiographs: "
        + ", ".join(f"{code}: {count}" for code, count in result["result_codes"].items()),
        "VHS mean absolute error by confidence: "
        + ", ".join(f"{level} {mae:.3f}" for level, mae in result["vhs_mae_by_confidence"].items()),
    ]
    if "held_out_agreement" in result:
        lines += format_agreement(result)
    return "\n".join(lines)


def _limits(figures: dict) -> str:
    ba = figures["bland_altman"]
    if ba["lower"] is None:
        return UNMEASURED
    return f"{ba['lower']:+.3f} .. {ba['upper']:+.3f}"


def _span(figures: dict) -> str:
    span = figures["truth_span"]
    return UNMEASURED if span is None else f"{span[0]:.1f} to {span[1]:.1f}"


def format_agreement(result: dict) -> list[str]:
    """Issue 21's figures: agreement on both sets, code rates, tiers, rejection detail."""
    sets = {"held-out": result["held_out_agreement"]}
    agreed = result.get("agreement")
    if agreed:
        sets["agreement set"] = agreed
    names = list(sets)

    def row(label: str, cell: Callable[[dict], str]) -> str:
        return f"| {label} | " + " | ".join(cell(sets[name]) for name in names) + " |"

    lines = ["", "Agreement with the truth (measured - true):", ""]
    lines += ["| figure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for measure in ("vhs", "vlas"):
        label = measure.upper()
        lines += [
            row(f"{label} n", lambda s, m=measure: str(s[m]["n"])),
            row(f"{label} true span", lambda s, m=measure: _span(s[m])),
            row(f"{label} MAE", lambda s, m=measure: _fixed(s[m]["mae"], 3)),
            row(f"{label} Pearson r", lambda s, m=measure: _fixed(s[m]["r"], 4)),
            row(f"{label} bias", lambda s, m=measure: _fixed(s[m]["bland_altman"]["bias"], 3)),
            row(
                f"{label} sd of differences",
                lambda s, m=measure: _fixed(s[m]["bland_altman"]["sd"], 3),
            ),
            row(f"{label} 95 % limits of agreement", lambda s, m=measure: _limits(s[m])),
            row(f"{label} within ±0.5", lambda s, m=measure: _percent(s[m]["within_0_5"])),
        ]
    threshold = sets["held-out"]["lae"]["threshold"]
    lines += [
        row(
            f"LAE (VLAS ≥ {threshold:g}) sensitivity", lambda s: _fixed(s["lae"]["sensitivity"], 3)
        ),
        row(
            f"LAE (VLAS ≥ {threshold:g}) specificity", lambda s: _fixed(s["lae"]["specificity"], 3)
        ),
        row(
            "LAE TP / FN / FP / TN",
            lambda s: f"{s['lae']['tp']} / {s['lae']['fn']} / {s['lae']['fp']} / {s['lae']['tn']}",
        ),
    ]
    visibility = result["visibility"]
    lines += [
        "",
        "| result code | held-out | agreement set |",
        "|---|---|---|",
        f"| visible atrium answered code 4 | {_percent(visibility['visible_atrium_code_4_rate'])} "
        f"| {_percent(agreed['visible_atrium_code_4_rate']) if agreed else UNMEASURED} |",
        f"| hidden atrium answered code 4 | {_percent(visibility['hidden_atrium_code_4_rate'])} "
        f"| (none hidden) |",
        f"| heart or vertebra cut off, code 5 | {_percent(visibility['cropped_code_5_rate'])} "
        f"| (none cut off) |",
        "",
        "| model_confidence | held-out VHS MAE (n) | agreement set VHS MAE (n) |",
        "|---|---|---|",
    ]
    for tier, held in result["vhs_by_confidence"].items():
        other = agreed["vhs_by_confidence"][tier] if agreed else None
        lines.append(
            f"| {tier} | {_fixed(held['mae'], 3)} ({held['n']}) | "
            + (f"{_fixed(other['mae'], 3)} ({other['n']})" if other else UNMEASURED)
            + " |"
        )
    lines += [
        "",
        "Procedural negatives rejected: "
        + ", ".join(
            f"{kind} {row['rejected']}/{row['n']}" for kind, row in result["negatives"].items()
        ),
    ]
    forms = result.get("forms")
    if forms:
        lines += [
            "",
            "Agreement-set radiographs uploaded in each form (decoded as a worker decodes):",
            "",
            "| form | n | rejected | VHS measured | VHS MAE |",
            "|---|---|---|---|---|",
        ]
        for form, row_ in forms.items():
            lines.append(
                f"| {form} | {row_['n']} | {row_['rejected']} | {row_['n_vhs_measured']} "
                f"| {_fixed(row_['vhs_mae'], 3)} |"
            )
    samples = result.get("sample_images")
    if samples:
        rejected = sum(row_["rejected"] for row_ in samples.values())
        lines += [
            "",
            f"scikit-image's sample PNGs: {rejected} of {len(samples)} rejected",
            "",
            "| image | rejected | radiograph probability |",
            "|---|---|---|",
        ]
        for name, row_ in samples.items():
            lines.append(
                f"| {name} | {'yes' if row_['rejected'] else '**no**'} "
                f"| {row_['probability']:.3f} |"
            )
    return lines


#: What a figure that could not be measured (no positive, no negative) reads as.
UNMEASURED = "n/a"


def _fixed(value: float | None, digits: int) -> str:
    return UNMEASURED if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    """A rate as docs/models.md writes it: ``97.9 %``, ``100 %``."""
    if value is None:
        return UNMEASURED
    return "100 %" if value == 1 else f"{value * 100:.1f} %"


def format_findings(result: dict) -> str:
    """A Markdown report of a multi-label findings evaluation with localisation (chest X-ray)."""
    located = result["localisation"]
    lines = [
        f"Model {result['model_version']}: {result['n']:,} held-out studies "
        f"(seed {result['seed']}, dataset {result['dataset_seed']})",
        "",
        f"Macro AUROC: {_fixed(result['macro_auroc'], 3)}",
        "",
        "| finding | positives | AUROC | threshold | sensitivity | specificity "
        "| hottest cell in lesion | strict | mean-map prior | lesion-location prior |",
        "|---" * 10 + "|",
    ]
    for name, row in result["per_finding"].items():
        cells = located["per_finding"][name]
        lines.append(
            f"| {name} | {row['n_positive']} | {_fixed(row['auroc'], 3)} "
            f"| {row['threshold']:.4f} | {_fixed(row['sensitivity'], 3)} "
            f"| {_fixed(row['specificity'], 3)} | {_percent(cells['hit'])} "
            f"| {_percent(cells['strict'])} | {_percent(cells['prior_model'])} "
            f"| {_percent(cells['prior_truth'])} |"
        )
    lines.append(
        f"| **all positives** | **{located['n']}** | | | | "
        f"| **{_percent(located['hit'])}** | **{_percent(located['strict'])}** "
        f"| **{_percent(located['prior_model'])}** | **{_percent(located['prior_truth'])}** |"
    )
    margin = result["localisation_margin"]
    margin_text = UNMEASURED if margin is None else f"{margin * 100:.1f} points"
    lines += [
        "",
        "Sensitivity and specificity are at the thresholds shown. Localisation: the hottest cell "
        "of the finding's own map in its lesion (mask dilated by "
        f"{located['dilation_cells']} cell; strict: undilated), against two fixed priors from "
        f"{result['n_prior']:,} training studies (dataset {result['prior_dataset_seed']}): the "
        f"mean model map and the mean lesion mask. Margin over the better prior: {margin_text}.",
        "Over the positives the model also reports at its thresholds: "
        f"{_percent(result['detected_localisation'])}.",
    ]
    pipeline = result.get("pipeline")
    if pipeline:
        lines.append(
            f"Whole pipeline on {pipeline['studies']} studies: the presence it reports agrees "
            f"with these thresholds on {pipeline['presence_agrees']}."
        )
    return "\n".join(lines)


def format_pop(result: dict) -> str:
    """A Markdown report of a picture-of-picture evaluation, one column per scene family."""
    families = result["families"]
    names = list(families)

    def row(label: str, key: str, style: str = "{}") -> str:
        cells = []
        for name in names:
            value = families[name].get(key)
            cells.append("n/a" if value is None else style.format(value))
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [
        f"Model {result['model_version']}: {result['n']} held-out PoP photos per scene family, "
        f"{result['n']} direct radiographs and {result['n']} non-radiographs (seed "
        f"{result['seed']})",
        "",
        "| measure | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
        row("PoP detection accuracy (with the direct radiographs)", "detection_accuracy", "{:.1%}"),
        row("PoP photos detected", "detected"),
        row("corners not found (code 7)", "corners_not_found"),
        row("corner error / diagonal, median", "corner_error_median", "{:.2%}"),
        row("corner error / diagonal, 95th percentile", "corner_error_p95", "{:.2%}"),
        row("mean Jaccard index (SmartDoc 2015)", "jaccard_mean", "{:.4f}"),
        row("photos compared for VHS", "n_vhs_compared"),
        row("VHS MAE, rectified photo", "vhs_mae_rectified", "{:.3f}"),
        row("VHS MAE, the same films straight", "vhs_mae_straight", "{:.3f}"),
        row("ratio (goal <= 1.5)", "vhs_mae_ratio", "{:.2f}"),
        row("screen partly out of view: photos", "out_of_view_n"),
        row("... answered code 7", "out_of_view_code_7"),
        "",
        f"Direct radiographs flagged as PoP: {result['direct_radiographs_flagged']}; "
        f"non-radiographs flagged: {result['non_radiographs_flagged']} ("
        + ", ".join(
            f"{kind} {result['direct_flagged'][kind]}/{count}"
            for kind, count in result["direct_n"].items()
        )
        + ")",
    ]
    return "\n".join(lines)
