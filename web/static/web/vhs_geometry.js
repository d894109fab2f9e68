// VHS and VLAS from the seven landmarks: inference/products/vhs/geometry.py, line for line, so
// that the page shows while a landmark is dragged what the server will store when it is saved.
// tests/test_vhs_geometry_js.py runs this file in node over many random landmark sets and
// checks it against geometry.measure (the unrounded values to 1e-9, the rounded ones equal).
//
// One vertebral unit = |Vertebra A -> Vertebra B| / 6; VHS = (|long axis| + |short axis|) /
// unit; VLAS = |heart_top -> VLAS| / unit; lengths in the image's own pixels (normalised
// coordinates scaled by its width and height first); values rounded to one decimal as Python's
// round() does (the exact binary value, ties to even).

export const LANDMARKS = [
  "heart_top",
  "heart_bottom",
  "heart_right",
  "heart_left",
  "VLAS",
  "Vertebra A",
  "Vertebra B",
];
export const VERTEBRAE_SPANNED = 6;
export const PERPENDICULAR_TOLERANCE_DEG = 15.0;
// Normal ranges, as the API's rendered image and the report print them.
export const VHS_NORMAL = [8.5, 10.5];
export const VLAS_NORMAL_MAX = 2.5;

export function toPixels(points, width, height) {
  const px = {};
  for (const [name, [x, y]] of Object.entries(points)) px[name] = [x * width, y * height];
  return px;
}

export function distance(a, b) {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

export function angleBetweenDeg(a, b) {
  const ax = a[1][0] - a[0][0];
  const ay = a[1][1] - a[0][1];
  const bx = b[1][0] - b[0][0];
  const by = b[1][1] - b[0][1];
  const norm = Math.hypot(ax, ay) * Math.hypot(bx, by);
  if (norm === 0) return 0.0;
  const cosine = Math.max(-1.0, Math.min(1.0, (ax * bx + ay * by) / norm));
  const angle = (Math.acos(cosine) * 180) / Math.PI;
  return angle > 90.0 ? 180.0 - angle : angle;
}

// Python's round(value, 1) for a non-negative value: toFixed rounds the exact binary value
// to nearest as round() does, but a tie (x.x5 exactly: only .25 and .75 are representable)
// goes up; round() takes the even neighbour.
export function round1(value) {
  const quarters = value * 4;
  if (Number.isInteger(quarters) && Math.abs(quarters % 2) === 1) {
    const low = Math.floor(value * 10);
    return (low % 2 === 0 ? low : low + 1) / 10;
  }
  return Number(value.toFixed(1));
}

// points: {name: [x, y]} normalised (0 to 1) -> the measurement; throws when Vertebra A and
// Vertebra B coincide (no vertebral unit), as geometry.measure raises ValueError.
export function measure(points, width, height) {
  const px = toPixels(points, width, height);
  const unit = distance(px["Vertebra A"], px["Vertebra B"]) / VERTEBRAE_SPANNED;
  if (!(unit > 0)) throw new Error("Vertebra A and Vertebra B coincide: no vertebral unit");
  const longAxis = distance(px.heart_top, px.heart_bottom) / unit;
  const shortAxis = distance(px.heart_right, px.heart_left) / unit;
  const vlasRaw = distance(px.heart_top, px.VLAS) / unit;
  const axesAngleDeg = angleBetweenDeg(
    [px.heart_top, px.heart_bottom],
    [px.heart_right, px.heart_left],
  );
  return {
    vhs: round1(longAxis + shortAxis),
    vlas: round1(vlasRaw),
    vhsRaw: longAxis + shortAxis,
    vlasRaw,
    longAxisVertebrae: longAxis,
    shortAxisVertebrae: shortAxis,
    vertebralUnitPx: unit,
    axesAngleDeg,
    axesPerpendicular: Math.abs(axesAngleDeg - 90.0) <= PERPENDICULAR_TOLERANCE_DEG,
  };
}

// The API's `prediction` list ([{x, y, class}]) as {name: [x, y]}, and back.
export function fromPrediction(prediction) {
  const points = {};
  for (const p of prediction) points[p.class] = [p.x, p.y];
  return points;
}

export function toPrediction(points) {
  return LANDMARKS.map((name) => ({ x: points[name][0], y: points[name][1], class: name }));
}
