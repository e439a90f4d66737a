// Figures computed in the browser from /performance/images (each image's out-of-sample
// predictions and its true tags or regions): precision–recall curves, a confusion matrix and
// the images the model got wrong. Pure functions of plain data.

export function iou(a, b) {
  const x = Math.max(0, Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left));
  const y = Math.max(0, Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top));
  const inter = x * y;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

const probabilityOf = (image, tagId) =>
  Math.max(0, ...image.predictions.filter((p) => p.tagId === tagId && !p.boundingBox).map((p) => p.probability));

/** Scored detections of one tag, each marked true/false positive by greedy IoU matching. */
function scoredDetections(images, tagId, overlap) {
  const scored = [];
  let positives = 0;
  for (const image of images) {
    const truth = (image.regions || []).filter((r) => r.tagId === tagId);
    positives += truth.length;
    const taken = new Set();
    const mine = image.predictions.filter((p) => p.tagId === tagId && p.boundingBox).sort((a, b) => b.probability - a.probability);
    for (const p of mine) {
      let best = -1;
      let bestIou = overlap;
      truth.forEach((r, i) => {
        const v = iou(p.boundingBox, r);
        if (!taken.has(i) && v >= bestIou) { best = i; bestIou = v; }
      });
      if (best >= 0) taken.add(best);
      scored.push({ score: p.probability, hit: best >= 0 });
    }
  }
  return { scored, positives };
}

/** Scores of one tag over all images, each marked whether the image truly has the tag. */
function scoredImages(images, tagId) {
  const scored = images.map((image) => ({
    score: probabilityOf(image, tagId),
    hit: image.tags.some((t) => t.tagId === tagId),
  }));
  return { scored, positives: scored.filter((s) => s.hit).length };
}

/**
 * Precision–recall points of one tag, from the highest score down: [{threshold, precision, recall}].
 * `overlap` is given for detection (boxes match at IoU ≥ overlap), omitted for classification.
 */
export function prCurve(images, tagId, overlap) {
  const { scored, positives } = overlap == null ? scoredImages(images, tagId) : scoredDetections(images, tagId, overlap);
  scored.sort((a, b) => b.score - a.score);
  const points = [];
  let tp = 0;
  let fp = 0;
  scored.forEach((s, i) => {
    if (s.hit) tp += 1; else fp += 1;
    // One point per distinct score: ties enter together.
    if (i === scored.length - 1 || scored[i + 1].score !== s.score) {
      points.push({ threshold: s.score, precision: tp / (tp + fp), recall: positives ? tp / positives : 0 });
    }
  });
  return { points, positives };
}

/** The point a threshold selects: the lowest listed threshold that is still ≥ t. */
export function pointAt(points, threshold) {
  let chosen = null;
  for (const p of points) if (p.threshold >= threshold) chosen = p;
  return chosen;
}

/** Multiclass confusion matrix: counts[true][predicted]; predicted "" when nothing reaches `threshold`. */
export function confusion(images, tagIds, threshold) {
  const counts = Object.fromEntries(tagIds.map((t) => [t, Object.fromEntries([...tagIds, ""].map((p) => [p, 0]))]));
  for (const image of images) {
    const truth = image.tags[0]?.tagId;
    if (!(truth in counts)) continue;
    const best = image.predictions.filter((p) => !p.boundingBox).sort((a, b) => b.probability - a.probability)[0];
    const predicted = best && best.probability >= threshold && tagIds.includes(best.tagId) ? best.tagId : "";
    counts[truth][predicted] += 1;
  }
  return counts;
}

/**
 * Images the model got wrong at `threshold`, each with what it missed and what it wrongly saw:
 * [{image, missed: [tagId], extra: [{tagId, probability}]}].
 */
export function mistakes(images, threshold, overlap) {
  const wrong = [];
  for (const image of images) {
    const confident = image.predictions.filter((p) => p.probability >= threshold);
    let missed;
    let extra;
    if (overlap == null) {
      const truth = new Set(image.tags.map((t) => t.tagId));
      const seen = new Set(confident.map((p) => p.tagId));
      missed = [...truth].filter((t) => !seen.has(t));
      extra = confident.filter((p) => !truth.has(p.tagId));
    } else {
      const regions = image.regions || [];
      const taken = new Set();
      extra = [];
      for (const p of [...confident].sort((a, b) => b.probability - a.probability)) {
        const i = regions.findIndex((r, k) => !taken.has(k) && r.tagId === p.tagId && iou(p.boundingBox, r) >= overlap);
        if (i >= 0) taken.add(i); else extra.push(p);
      }
      missed = regions.filter((_, k) => !taken.has(k)).map((r) => r.tagId);
    }
    if (missed.length || extra.length) wrong.push({ image, missed, extra });
  }
  return wrong;
}
