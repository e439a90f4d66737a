// Numbers, dates and Azure status codes in words.

export const pct = (x, digits = 1) => (x == null || Number.isNaN(x) ? "–" : `${(x * 100).toFixed(digits)}%`);

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Per-image upload statuses (ImageCreateResult.status) in words. */
const UPLOAD_STATUS = {
  OK: "Added",
  OKDuplicate: "Already in the project (duplicate, not added again)",
  ErrorSource: "Could not read the image source",
  ErrorImageFormat: "Not a supported image (JPEG, PNG, BMP, GIF or WebP)",
  ErrorImageSize: "File too large (at most 6 MB)",
  ErrorImageDimensions: "Image too small or too large in pixels",
  ErrorStorage: "The server could not store the image",
  ErrorLimitExceed: "The project's image limit is reached",
  ErrorTagLimitExceed: "Too many tags on this image",
  ErrorRegionLimitExceed: "Too many regions on this image",
  ErrorNegativeAndRegularTagOnSameImage: "A Negative tag cannot be combined with other tags",
  ErrorUnknown: "Unknown error",
};

export const uploadStatusText = (status) => UPLOAD_STATUS[status] || status;
export const uploadOk = (status) => status === "OK" || status === "OKDuplicate";

export const isDetection = (domain) => domain?.type === "ObjectDetection";
