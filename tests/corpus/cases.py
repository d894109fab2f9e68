"""The corpus itself: hostile requests for every endpoint of every product, and the platform's.

Endpoints come from ``config/urls.py`` and each product's ``urls``/``routing`` (the same list
the OpenAPI schema at ``/api/schema/`` documents; ``test_the_corpus_covers_every_endpoint``
holds the two together).  ``CASES`` is built by the functions below: classes of input every
endpoint of a kind gets (bodies that are not JSON, JSON that is not an object, wrong content
types, malformed multipart, wrong methods, missing or wrong credentials), then each endpoint's
own (image fields, batches, corners, ids, paths, DICOM files).
"""

from __future__ import annotations

from inference.products.vhs.geometry import LANDMARKS
from tests.corpus import Case, Context
from tests.corpus import payloads as p

# --- the endpoints ------------------------------------------------------------------------

#: JSON endpoints and the envelope each answers in (the stream's refusals are VHS's too).
JSON_POSTS: dict[str, str] = {
    "/vhs/v3/predict": "vhs",
    "/vhs/v3/predict/stream": "vhs",
    "/vhs/v3/corners": "vhs",
    "/vhs/v3/rectify": "vhs",
    "/vhs/v3/preprocess": "vhs",
    "/vhs/v3/pop-session": "vhs",
    "/vhs/v3/pop-session/ticket": "vhs",
    "/vhs/v3/corrections": "vhs",
    "/vhs/v3/report": "vhs",
    "/leukemia/predict": "leukemia",
    "/cxr/single_inference": "cxr",
}
#: Endpoints that take an upload (``multipart/form-data``).
UPLOAD_POSTS: dict[str, str] = {
    "/leukemia/predict/upload": "leukemia",
    "/cxr/single_inference/upload": "cxr",
}
GETS: dict[str, str] = {
    "/vhs/v3/health": "vhs",
    "/vhs/v3/measurements": "vhs",
    "/leukemia/": "leukemia",
    "/leukemia/health": "leukemia",
}
#: Endpoints answering without a body: POSTs that take none.
BODILESS_POSTS: dict[str, str] = {"/vhs/v3/pop-session/start": "vhs"}
AUTH_POSTS = ("/auth/token/", "/auth/token/refresh/")
PLATFORM_GETS = ("/health/", "/api/schema/")

#: The auth each product's endpoints take in the corpus (``Case.auth``).
AUTH = {"vhs": "key", "leukemia": "key", "cxr": "jwt", "drf": "none"}

#: A field a JSON body of each endpoint carries text in (for huge and hostile strings).
TEXT_FIELD = {
    "/vhs/v3/predict": "uuid",
    "/vhs/v3/predict/stream": "uuid",
    "/vhs/v3/corners": "image",
    "/vhs/v3/rectify": "image",
    "/vhs/v3/preprocess": "image",
    "/vhs/v3/pop-session": "session_id",
    "/vhs/v3/pop-session/ticket": "session_id",
    "/vhs/v3/corrections": "corrected_by",
    "/vhs/v3/report": "clinic",
    "/leukemia/predict": "image_base64",
    "/cxr/single_inference": "input_image_path",
}

JSON = "application/json"
GOOD_IMAGE = p.b64(p.png(320, 240))
NOT_BASE64 = "this is not base64!!"
HUGE_STRING = "A" * 1_000_000


def _case(path: str, envelope: str, name: str, status: int, body=b"", **kw) -> Case:
    kw.setdefault("auth", AUTH[envelope])
    kw.setdefault("content_type", JSON if body else None)
    return Case(name, kw.pop("method", "POST"), path, status, envelope, body, **kw)


# --- classes of input every endpoint of a kind gets ------------------------------------------


def body_classes() -> list[Case]:
    """Bodies that are not a JSON object, sent to every JSON endpoint: 400, or 415 for a
    content type the endpoint does not read (malformed multipart included)."""
    cases = []
    for path, envelope in JSON_POSTS.items():
        bad = [
            ("empty body", b"", JSON, 400),
            ("truncated JSON", b'{"image": "abc', JSON, 400),
            ("JSON nested 100000 deep", b"[" * 100_000, JSON, 400),
            ("JSON array, not an object", b"[]", JSON, 400),
            ("JSON string, not an object", b'"image"', JSON, 400),
            ("JSON null", b"null", JSON, 400),
            ("JSON number", b"0", JSON, 400),
            ("invalid UTF-8", b'{"image": "\xff\xfe"}', JSON, 400),
            ("NaN literal", b'{"image": NaN}', JSON, 400),
            ("duplicate keys, both wrong", b'{"image": 1, "image": {}}', JSON, 400),
            ("text/plain", b"hello", "text/plain", 415),
            ("form-urlencoded", b"image=abc", "application/x-www-form-urlencoded", 415),
            ("XML", b"<image>abc</image>", "application/xml", 415),
            ("no Content-Type", b'{"image": "abc"}', None, 415),
            (
                "well-formed multipart",
                p.multipart({"image": GOOD_IMAGE}),
                p.multipart_type(),
                415,
            ),
        ]
        bad += [(n, body, ct, 415) for n, (ct, body) in p.MALFORMED_MULTIPART.items()]
        for name, body, content_type, status in bad:
            if path.endswith("/stream") and content_type is None:
                continue  # the stream reads any body as JSON (SSE clients send no type)
            cases.append(_case(path, envelope, name, status, body, content_type=content_type))
        field = TEXT_FIELD[path]
        cases += [
            _case(path, envelope, f"{field}: 1 MB string", 400, p.as_json({field: HUGE_STRING})),
            _case(path, envelope, f"{field}: NUL byte", 400, p.as_json({field: "a\x00b"})),
            _case(path, envelope, f"{field}: object", 400, p.as_json({field: {}})),
            _case(path, envelope, f"{field}: number", 400, p.as_json({field: 0})),
        ]
    return cases


def upload_classes() -> list[Case]:
    """Uploads that are not a readable form, or carry no usable file."""
    cases = []
    for path, envelope in UPLOAD_POSTS.items():
        for name, (content_type, body) in p.MALFORMED_MULTIPART.items():
            cases.append(_case(path, envelope, name, 400, body, content_type=content_type))
        cases += [
            _case(path, envelope, "JSON body", 415, p.as_json({"file": "abc"})),
            _case(path, envelope, "text/plain", 415, b"abc", content_type="text/plain"),
            _case(path, envelope, "empty body, no Content-Type", 400),
            _case(
                path,
                envelope,
                "form without the file",
                400,
                p.multipart({"patient_id": "P1"}),
                content_type=p.multipart_type(),
            ),
            _case(
                path,
                envelope,
                "file as a text field",
                400,
                p.multipart({"file": "abc"}),
                content_type=p.multipart_type(),
            ),
            _case(
                path,
                envelope,
                "zero-byte file",
                400,
                p.multipart(files={"file": ("a", b"")}),
                content_type=p.multipart_type(),
            ),
            _case(
                path,
                envelope,
                "file of text",
                400,
                p.multipart(files={"file": ("a.png", b"not an image at all")}),
                content_type=p.multipart_type(),
            ),
        ]
    return cases


def method_and_path_classes() -> list[Case]:
    """Wrong methods on every endpoint, unknown paths under every prefix: 405 and 404 in the
    product's envelope, never an HTML page."""
    cases = []
    for path, envelope in {**JSON_POSTS, **UPLOAD_POSTS, **BODILESS_POSTS}.items():
        cases.append(_case(path, envelope, "GET on a POST endpoint", 405, method="GET"))
        cases.append(_case(path, envelope, "DELETE", 405, method="DELETE"))
    for path, envelope in GETS.items():
        cases.append(_case(path, envelope, "POST on a GET endpoint", 405, b"{}"))
    for prefix, envelope in (("/vhs/v3/", "vhs"), ("/leukemia/", "leukemia"), ("/cxr/", "cxr")):
        cases += [
            _case(f"{prefix}nothing-here", envelope, "unknown path", 404, method="GET"),
            _case(
                f"{prefix}..%2f..%2fetc%2fpasswd", envelope, "encoded traversal", 404, method="GET"
            ),
        ]
    return cases


def credential_classes() -> list[Case]:
    """No, empty or wrong credentials: the seed's 403 (VHS) or 401 (chest X-ray)."""
    cases = []
    for path in ("/vhs/v3/predict", "/vhs/v3/health", "/vhs/v3/predict/stream"):
        method = "GET" if path.endswith("health") else "POST"
        body = b"" if method == "GET" else p.as_json({"image": GOOD_IMAGE})
        for name, auth in (("no key", "none"), ("wrong key", "vhs_0000"), ("NUL key", "a\x01b")):
            cases.append(_case(path, "vhs", name, 403, body, method=method, auth=auth))
    body = p.as_json({"input_image_path": "/x.dcm", "save_to_disk": False})
    for name, headers in (
        ("no token", {}),
        ("garbage token", {"Authorization": "Bearer not.a.jwt"}),
        ("empty bearer", {"Authorization": "Bearer "}),
        ("basic auth", {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}),
        ("huge token", {"Authorization": "Bearer " + "A" * 6000}),
    ):
        cases.append(
            _case("/cxr/single_inference", "cxr", name, 401, body, auth="none", headers=headers)
        )
    return cases


# --- each endpoint's own -----------------------------------------------------------------


def vhs_image_cases() -> list[Case]:
    """Image fields of the VHS endpoints and the leukemia one: not base64, not an image, too
    small, a decompression bomb; batches of 0, 11 and wrong items."""
    bomb = p.b64(p.png_claiming(30_000, 30_000))
    cases = []
    for path, field in (
        ("/vhs/v3/predict", "image"),
        ("/vhs/v3/corners", "image"),
        ("/vhs/v3/preprocess", "image"),
        ("/vhs/v3/pop-session", "image"),
        ("/leukemia/predict", "image_base64"),
    ):
        envelope = "leukemia" if path.startswith("/leukemia") else "vhs"
        extra = {"session_id": "ps_nonexistent"} if path.endswith("pop-session") else {}
        for name, value, status in (
            ("not base64", NOT_BASE64, 400),
            ("base64 of text", p.b64(b"hello world"), 400),
            ("empty string", "", 400),
            ("decompression bomb", bomb, 413),
            ("data URL of text", "data:image/png;base64," + p.b64(b"text"), 400),
        ):
            if extra and value:
                status = 404  # the session is looked up before the image is decoded
            cases.append(
                _case(
                    path, envelope, f"{field}: {name}", status, p.as_json({field: value, **extra})
                )
            )
    for path in ("/vhs/v3/predict", "/vhs/v3/predict/stream"):
        cases += [
            _case(path, "vhs", "11-image batch", 400, p.as_json({"images": [GOOD_IMAGE] * 11})),
            _case(path, "vhs", "empty batch", 400, p.as_json({"images": []})),
            _case(path, "vhs", "batch not a list", 400, p.as_json({"images": GOOD_IMAGE})),
            _case(path, "vhs", "batch of numbers", 400, p.as_json({"images": [1, 2]})),
            _case(
                path,
                "vhs",
                "image and images",
                400,
                p.as_json({"image": GOOD_IMAGE, "images": [GOOD_IMAGE]}),
            ),
            _case(
                path,
                "vhs",
                "render not a boolean",
                400,
                p.as_json({"image": GOOD_IMAGE, "render": "yes"}),
            ),
            _case(
                path,
                "vhs",
                "uuid with a lone surrogate",
                400,
                b'{"image": "aGVsbG8=", "uuid": "\\ud800"}',
            ),
            _case(
                path,
                "vhs",
                "uuid of 129 characters",
                400,
                p.as_json({"image": GOOD_IMAGE, "uuid": "u" * 129}),
            ),
            _case(path, "vhs", "uuid list", 400, p.as_json({"image": GOOD_IMAGE, "uuid": []})),
        ]
    return cases


def rectify_cases() -> list[Case]:
    """``/vhs/v3/rectify``'s corners: negative, NaN, infinite, out of the image, malformed."""
    square = [[10, 10], [300, 10], [300, 220], [10, 220]]
    cases = []
    for name, corners, status in (
        # Up to 5 % of the image's size outside it is allowed (a screen's edge may be cut).
        ("negative corners", [[-100, -100], [300, 10], [300, 220], [10, 220]], 400),
        ("corners far outside the image", [[0, 0], [1e9, 0], [1e9, 1e9], [0, 1e9]], 400),
        ("three corners", square[:3], 400),
        ("five corners", [*square, [1, 1]], 400),
        ("corner of three numbers", [[1, 2, 3], *square[1:]], 400),
        ("string coordinates", [["1", "2"], *square[1:]], 400),
        ("boolean coordinates", [[True, False], *square[1:]], 400),
        ("null corner", [None, *square[1:]], 400),
        ("corners an object", {"tl": [1, 1]}, 400),
        ("all corners the same point", [[5, 5]] * 4, 400),
        ("corners not convex", [[10, 10], [300, 220], [300, 10], [10, 220]], 400),
        ("float overflow", [[1e400, 1], *square[1:]], 400),
    ):
        body = p.as_json({"image": GOOD_IMAGE, "corners": corners}).replace(b"Infinity", b"1e400")
        cases.append(_case("/vhs/v3/rectify", "vhs", name, status, body))
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"image": "%s", "corners": [[%s, 1], [2, 2], [3, 3], [4, 4]]}' % (
            GOOD_IMAGE.encode(),
            literal,
        )
        cases.append(_case("/vhs/v3/rectify", "vhs", f"{literal.decode()} corner", 400, body))
    cases.append(
        _case(
            "/vhs/v3/rectify", "vhs", "corners without image", 400, p.as_json({"corners": square})
        )
    )
    return cases


def record_cases() -> list[Case]:
    """Corrections, reports, measurements and PoP sessions: ids that do not exist, are not
    ids, or belong to nobody; landmarks of the wrong shape."""
    seven = [{"x": 0.5, "y": 0.5, "class": name} for name in LANDMARKS]
    cases = []
    for path in ("/vhs/v3/corrections", "/vhs/v3/report"):
        extra = {"landmarks": seven} if path.endswith("corrections") else {}
        for name, value, status in (
            ("measurement_id 0", 0, 400),
            ("measurement_id negative", -1, 400),
            ("measurement_id 2**63", 2**63, 400),
            ("measurement_id 10**30", 10**30, 400),
            ("measurement_id string", "abc", 400),
            ("measurement_id float", 1.5, 400),
            ("measurement_id boolean", True, 400),
            ("measurement_id that does not exist", 2_000_000_000, 404),
        ):
            cases.append(
                _case(path, "vhs", name, status, p.as_json({"measurement_id": value, **extra}))
            )
    for name, landmarks in (
        ("landmarks empty", []),
        ("landmarks not a list", "abc"),
        ("landmarks out of range", [{"x": 2, "y": -1, "class": "a"}] * 7),
        ("landmarks NaN-free but strings", [{"x": "a", "y": "b", "class": "c"}] * 7),
        ("landmarks 10000 points", [{"x": 0.1, "y": 0.1, "class": "a"}] * 10_000),
    ):
        cases.append(
            _case(
                "/vhs/v3/corrections",
                "vhs",
                name,
                400,
                lambda ctx, lm=landmarks: p.as_json(
                    {"measurement_id": ctx.measurement_id, "landmarks": lm}
                ),
            )
        )
    cases.append(
        _case(
            "/vhs/v3/report",
            "vhs",
            "clinic of 201 characters",
            400,
            lambda ctx: p.as_json({"measurement_id": ctx.measurement_id, "clinic": "c" * 201}),
        )
    )
    for name, query, status in (
        ("uuid with a NUL", "?uuid=a%00b", 400),
        ("uuid of 129 characters", "?uuid=" + "u" * 129, 400),
    ):
        cases.append(_case(f"/vhs/v3/measurements{query}", "vhs", name, status, method="GET"))
    for path in ("/vhs/v3/pop-session/ticket", "/vhs/v3/pop-session"):
        extra = {"image": GOOD_IMAGE} if path == "/vhs/v3/pop-session" else {}
        cases += [
            _case(
                path,
                "vhs",
                "session that does not exist",
                404,
                p.as_json({"session_id": "ps_doesnotexist", **extra}),
            ),
            _case(
                path,
                "vhs",
                "session_id of 65 characters",
                400,
                p.as_json({"session_id": "s" * 65, **extra}),
            ),
            _case(
                path,
                "vhs",
                "session_id with traversal",
                404,
                p.as_json({"session_id": "../../etc/passwd", **extra}),
            ),
        ]
    return cases


def _cxr_body(path_of, save: bool = False, output=None, **extra) -> object:
    def build(ctx: Context) -> bytes:
        body = {"input_image_path": path_of(ctx), "save_to_disk": save, **extra}
        if output is not None:
            body["output_folder_path"] = output(ctx)
        return p.as_json(body)

    return build


#: DICOM studies the corpus writes into the stack's input folder (name -> bytes).
CXR_STUDIES = {
    "no-pixels.dcm": p.dicom_without_pixel_data,
    "zero-length-tags.dcm": p.dicom_zero_length_tags,
    "huge-pixel-length.dcm": p.dicom_huge_pixel_length,
    "huge-text-length.dcm": p.dicom_huge_text_length,
    "truncated-tag.dcm": p.dicom_truncated_in_a_tag,
    "malformed-tag.dcm": p.dicom_malformed_tag,
    "only-preamble.dcm": p.dicom_only_preamble,
    "a-png.dcm": p.not_dicom,
    "empty.dcm": lambda: b"",
}


def cxr_cases() -> list[Case]:
    """The chest X-ray API: broken DICOM (by path and uploaded), paths escaping the allowed
    folders (``..``, symlinks, relative, NUL), output folders escaping theirs."""
    cases = []
    for filename, build in CXR_STUDIES.items():
        cases.append(
            _case(
                "/cxr/single_inference",
                "cxr",
                f"DICOM {filename}",
                400,
                _cxr_body(lambda ctx, f=filename: str(ctx.cxr_input / f)),
            )
        )
        cases.append(
            _case(
                "/cxr/single_inference/upload",
                "cxr",
                f"DICOM {filename}",
                400,
                p.multipart(files={"file": (filename, build())}),
                content_type=p.multipart_type(),
            )
        )
    valid = lambda ctx: str(ctx.cxr_input / "valid.dcm")  # noqa: E731
    for name, path_of in (
        ("dotdot escape", lambda ctx: f"{ctx.cxr_input}/../../../../etc/passwd"),
        ("absolute outside", lambda ctx: "/etc/passwd"),
        ("relative path", lambda ctx: "valid.dcm"),
        ("symlink out of the root", lambda ctx: str(ctx.cxr_input / "escape.dcm")),
        ("symlinked folder out of the root", lambda ctx: str(ctx.cxr_input / "out" / "x.dcm")),
        ("NUL in the path", lambda ctx: f"{ctx.cxr_input}/valid.dcm\x00.png"),
        ("a folder", lambda ctx: str(ctx.cxr_input)),
        ("does not exist", lambda ctx: str(ctx.cxr_input / "missing.dcm")),
        ("not .dcm", lambda ctx: str(ctx.cxr_input / "study.txt")),
        ("a symlink loop", lambda ctx: str(ctx.cxr_input / "loop.dcm")),
        ("path of 5000 characters", lambda ctx: str(ctx.cxr_input / ("d" * 5000 + ".dcm"))),
        ("/dev/zero", lambda ctx: "/dev/zero"),
    ):
        cases.append(_case("/cxr/single_inference", "cxr", name, 400, _cxr_body(path_of)))
    for name, output in (
        ("output dotdot escape", lambda ctx: f"{ctx.cxr_output}/../../../tmp/evil"),
        ("output outside", lambda ctx: str(ctx.outside)),
        ("output symlink out of the root", lambda ctx: str(ctx.cxr_output / "out")),
        ("output relative", lambda ctx: "results"),
        ("output NUL", lambda ctx: f"{ctx.cxr_output}/a\x00b"),
        ("output missing", None),
    ):
        cases.append(
            _case(
                "/cxr/single_inference",
                "cxr",
                name,
                400,
                _cxr_body(valid, save=True, output=output),
            )
        )
    for name, extra in (
        ("patient_id traversal", {"patient_id": "../../etc"}),
        ("patient_id dotdot", {"patient_id": ".."}),
        ("patient_id with a slash", {"patient_id": "a/b"}),
        ("patient_id of 65 characters", {"patient_id": "p" * 65}),
        ("save_to_disk a string", {"save_to_disk": "yes"}),
        ("save_to_disk null", {"save_to_disk": None}),
        ("dicom_output a number", {"dicom_output": 2}),
    ):
        cases.append(_case("/cxr/single_inference", "cxr", name, 400, _cxr_body(valid, **extra)))
    cases.append(
        _case(
            "/cxr/single_inference/upload",
            "cxr",
            "patient_id traversal",
            400,
            p.multipart({"patient_id": "../x"}, {"file": ("a.dcm", p.dicom_valid())}),
            content_type=p.multipart_type(),
        )
    )
    return cases


def auth_cases() -> list[Case]:
    """``/auth/token/`` and its refresh: DRF's documents, 400 for unreadable input, 401 for
    wrong credentials, 415 for a content type neither reads."""
    cases = []
    for path in AUTH_POSTS:
        cases += [
            _case(path, "drf", "empty JSON object", 400, b"{}"),
            _case(path, "drf", "truncated JSON", 400, b'{"username": '),
            _case(path, "drf", "JSON nested 100000 deep", 400, b"[" * 100_000),
            _case(path, "drf", "JSON array", 400, b"[]"),
            _case(path, "drf", "text/plain", 415, b"x", content_type="text/plain"),
            _case(path, "drf", "XML", 415, b"<a/>", content_type="application/xml"),
            _case(path, "drf", "GET", 405, method="GET"),
        ]
        cases += [
            _case(path, "drf", name, 400, body, content_type=content_type)
            for name, (content_type, body) in p.MALFORMED_MULTIPART.items()
        ]
    cases += [
        _case(
            "/auth/token/",
            "drf",
            "wrong password",
            401,
            p.as_json({"username": "nobody", "password": "wrong"}),
        ),
        _case(
            "/auth/token/",
            "drf",
            "huge username",
            401,
            p.as_json({"username": HUGE_STRING, "password": "x"}),
        ),
        _case(
            "/auth/token/",
            "drf",
            "username an object",
            400,
            p.as_json({"username": {}, "password": "x"}),
        ),
        _case(
            "/auth/token/",
            "drf",
            "NUL in username",
            400,
            p.as_json({"username": "a\x00b", "password": "x"}),
        ),
        _case(
            "/auth/token/refresh/",
            "drf",
            "garbage refresh token",
            401,
            p.as_json({"refresh": "not.a.token"}),
        ),
        _case(
            "/auth/token/refresh/", "drf", "refresh token a number", 401, p.as_json({"refresh": 5})
        ),
    ]
    return cases


CASES: list[Case] = [
    *body_classes(),
    *upload_classes(),
    *method_and_path_classes(),
    *credential_classes(),
    *vhs_image_cases(),
    *rectify_cases(),
    *record_cases(),
    *cxr_cases(),
    *auth_cases(),
]
