// The Tagsight REST client: Azure's Training API (v3.4-preview) plus the portal's summary and dataset routes.
// Every failure becomes an ApiError whose message is the server's own words.

export const TRAINING_BASE = "/customvision/v3.4-preview/training";
export const PREDICTION_BASE = "/customvision/v3.1/prediction";
const KEY_ITEM = "tagsight.trainingKey";
const PREDICTION_KEY_ITEM = "tagsight.predictionKey";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** The keys live in sessionStorage: gone when the tab closes, never sent anywhere else. */
export const keys = {
  get training() { return sessionStorage.getItem(KEY_ITEM); },
  set training(value) {
    if (value) sessionStorage.setItem(KEY_ITEM, value); else sessionStorage.removeItem(KEY_ITEM);
  },
  get prediction() { return sessionStorage.getItem(PREDICTION_KEY_ITEM) || ""; },
  set prediction(value) {
    if (value) sessionStorage.setItem(PREDICTION_KEY_ITEM, value); else sessionStorage.removeItem(PREDICTION_KEY_ITEM);
  },
  signOut() {
    sessionStorage.removeItem(KEY_ITEM);
    sessionStorage.removeItem(PREDICTION_KEY_ITEM);
  },
};

function queryString(query) {
  const parts = [];
  for (const [name, value] of Object.entries(query || {})) {
    if (value == null || value === "" || (Array.isArray(value) && value.length === 0)) continue;
    // Lists go as one comma-separated value, as the SDK sends them.
    const text = Array.isArray(value) ? value.map(encodeURIComponent).join(",") : encodeURIComponent(value);
    parts.push(`${encodeURIComponent(name)}=${text}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: fall back to the status line.
  }
  if (body && typeof body.message === "string") return new ApiError(response.status, body.code, body.message);
  return new ApiError(response.status, `HTTP${response.status}`, `The server answered ${response.status} ${response.statusText}.`);
}

/** One request. `json` is sent as a JSON body, `form` as multipart; `key` overrides the stored key. */
export async function request(method, path, { query, json, form, key, base = TRAINING_BASE } = {}) {
  const headers = { "Training-Key": key ?? keys.training ?? "" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(base + path + queryString(query), { method, headers, body });
  } catch (err) {
    throw new ApiError(0, "Network", `Cannot reach the Tagsight server (${err.message}).`);
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && key === undefined) {
      window.dispatchEvent(new CustomEvent("tagsight:unauthorized", { detail: error }));
    }
    throw error;
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

const get = (path, query) => request("GET", path, { query });
const del = (path, query) => request("DELETE", path, { query });
const P = (projectId) => `/projects/${encodeURIComponent(projectId)}`;

// --- account, domains, projects -----------------------------------------------------------------

/** Check a training key without storing it (GET /domains needs a valid key). */
export const checkKey = (key) => request("GET", "/domains", { key });
export const domains = () => get("/domains");
export const projects = () => get("/projects");
export const project = (id) => get(P(id));
export const projectSummaries = () => request("GET", "/portal/api/projects/summaries", { base: "" });
export const createProject = ({ name, description, domainId, classificationType }) =>
  request("POST", "/projects", { query: { name, description, domainId, classificationType } });
export const updateProject = (id, body) => request("PATCH", P(id), { json: body });
export const deleteProject = (id) => del(P(id));

// --- tags ----------------------------------------------------------------------------------------

export const tags = (projectId) => get(`${P(projectId)}/tags`);
export const createTag = (projectId, name, type) =>
  request("POST", `${P(projectId)}/tags`, { query: { name, type: type || undefined } });
export const updateTag = (projectId, tagId, body) => request("PATCH", `${P(projectId)}/tags/${tagId}`, { json: body });
export const deleteTag = (projectId, tagId) => del(`${P(projectId)}/tags/${tagId}`);

// --- images and labels ---------------------------------------------------------------------------

export const images = (projectId, { taggingStatus = "All", tagIds, take = 50, skip = 0, orderBy = "Newest" } = {}) =>
  get(`${P(projectId)}/images`, { taggingStatus, tagIds, take, skip, orderBy });
export const imageCount = (projectId, { taggingStatus = "All", tagIds } = {}) =>
  get(`${P(projectId)}/images/count`, { taggingStatus, tagIds });
export const imagesByIds = (projectId, imageIds) => get(`${P(projectId)}/images/id`, { imageIds });

/** Files as multipart `imageData` parts; resolves to the ImageCreateSummary (200 or 207). */
export function uploadImages(projectId, files, tagIds) {
  const form = new FormData();
  for (const file of files) form.append("imageData", file, file.name);
  return request("POST", `${P(projectId)}/images`, { query: { tagIds }, form });
}

export const deleteImages = (projectId, imageIds) => del(`${P(projectId)}/images`, { imageIds });
export const tagImages = (projectId, pairs) =>
  request("POST", `${P(projectId)}/images/tags`, { json: { tags: pairs } });
export const untagImages = (projectId, imageIds, tagIds) => del(`${P(projectId)}/images/tags`, { imageIds, tagIds });
export const addRegions = (projectId, regions) =>
  request("POST", `${P(projectId)}/images/regions`, { json: { regions } });
export const deleteRegions = (projectId, regionIds) => del(`${P(projectId)}/images/regions`, { regionIds });
export const regionProposals = (projectId, imageId) =>
  request("POST", `${P(projectId)}/images/${imageId}/regionproposals`);

// --- training, iterations, performance, publishing -----------------------------------------------

export const train = (projectId, { trainingType, reservedBudgetInHours, forceTrain }) =>
  request("POST", `${P(projectId)}/train`, { query: { trainingType, reservedBudgetInHours, forceTrain } });
export const iterations = (projectId) => get(`${P(projectId)}/iterations`);
export const iteration = (projectId, iterationId) => get(`${P(projectId)}/iterations/${iterationId}`);
export const deleteIteration = (projectId, iterationId) => del(`${P(projectId)}/iterations/${iterationId}`);
export const performance = (projectId, iterationId, { threshold, overlapThreshold }) =>
  get(`${P(projectId)}/iterations/${iterationId}/performance`, { threshold, overlapThreshold });
export const imagePerformances = (projectId, iterationId, { take = 256, skip = 0 } = {}) =>
  get(`${P(projectId)}/iterations/${iterationId}/performance/images`, { take, skip });
export const imagePerformanceCount = (projectId, iterationId) =>
  get(`${P(projectId)}/iterations/${iterationId}/performance/images/count`);
export const publish = (projectId, iterationId, publishName, predictionId) =>
  request("POST", `${P(projectId)}/iterations/${iterationId}/publish`, { query: { publishName, predictionId } });
export const unpublish = (projectId, iterationId) => del(`${P(projectId)}/iterations/${iterationId}/publish`);

// --- quick test and stored predictions -----------------------------------------------------------

export function quickTestImage(projectId, file, iterationId) {
  const form = new FormData();
  form.append("imageData", file, file.name);
  return request("POST", `${P(projectId)}/quicktest/image`, { query: { iterationId }, form });
}
export const quickTestUrl = (projectId, url, iterationId) =>
  request("POST", `${P(projectId)}/quicktest/url`, { query: { iterationId }, json: { url } });
export const queryPredictions = (projectId, token) =>
  request("POST", `${P(projectId)}/predictions/query`, { json: token });
export const deletePredictions = (projectId, ids) => del(`${P(projectId)}/predictions`, { ids });
export const createImagesFromPredictions = (projectId, entries) =>
  request("POST", `${P(projectId)}/images/predictions`, { json: { images: entries } });

// --- smart labeler --------------------------------------------------------------------------------

export const suggestTagsAndRegions = (projectId, iterationId, imageIds) =>
  request("POST", `${P(projectId)}/tagsandregions/suggestions`, { query: { iterationId, imageIds } });
/** One page of untagged images by uncertainty; pass the answer's token back for the next page. */
export const querySuggested = (projectId, iterationId, token) =>
  request("POST", `${P(projectId)}/images/suggested`, { query: { iterationId }, json: token });
/** {tagId: number of untagged images suggested as that tag at `threshold`}. */
export const suggestedCount = (projectId, iterationId, { tagIds, threshold } = {}) =>
  request("POST", `${P(projectId)}/images/suggested/count`, { query: { iterationId }, json: { tagIds, threshold } });

// --- datasets (Tagsight's own routes, not Azure's) -------------------------------------------------

export const DATASET_FORMATS = ["coco", "voc", "yolo", "folder", "csv"];

async function datasetFetch(method, path, query, body) {
  const headers = { "Training-Key": keys.training ?? "" };
  if (body) headers["Content-Type"] = "application/zip";
  let response;
  try {
    response = await fetch(`/tagsight/api${path}${queryString(query)}`, { method, headers, body });
  } catch (err) {
    throw new ApiError(0, "Network", `Cannot reach the Tagsight server (${err.message}).`);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** Send a zipped dataset; into the project named `projectName` (created when missing) or `projectId`. */
export async function importDataset(file, format, { projectName, projectId }) {
  const response = await datasetFetch("POST", "/datasets/import", { format, projectName, projectId }, file);
  return response.json();
}

/** The project's labelled images as a zipped dataset (a Blob). */
export async function exportDataset(projectId, format) {
  const response = await datasetFetch("GET", `${P(projectId)}/dataset`, { format });
  return response.blob();
}

/** Every page of a paged listing (take ≤ 256). */
export async function all(fetchPage, pageSize = 256) {
  const items = [];
  for (let skip = 0; ; skip += pageSize) {
    const page = await fetchPage({ take: pageSize, skip });
    items.push(...page);
    if (page.length < pageSize) return items;
  }
}

/** Run `fn` over `items` in chunks of `size` (API batch limits), one chunk at a time. */
export async function inChunks(items, size, fn) {
  const results = [];
  for (let i = 0; i < items.length; i += size) results.push(await fn(items.slice(i, i + size)));
  return results;
}
