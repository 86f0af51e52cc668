// Calls to the service's own /v1 endpoints, with the API key when one is stored.
//
//   await transcribe(body, contentType, model)   // -> the JSON of POST /v1/transcribe
//   await listModels()                           // -> {models: [...], lms: [...]}
//
// A failed call throws ApiError(message, status): the message is the service's
// {"error": ...} text, or what went wrong on the way.

const KEY_ITEM = "recog.apiKey";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export function storedKey() {
  try {
    return localStorage.getItem(KEY_ITEM) || "";
  } catch {
    return "";  // storage blocked: the page still works without a key
  }
}

export function storeKey(key) {
  try {
    if (key) localStorage.setItem(KEY_ITEM, key);
    else localStorage.removeItem(KEY_ITEM);
  } catch {
    // storage blocked: nothing to keep
  }
}

async function call(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const key = storedKey();
  if (key && path.startsWith("/v1/")) headers.set("X-API-Key", key);
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(`the service does not answer (${err.message})`, 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.error ? body.error : `HTTP ${response.status}`;
    throw new ApiError(message, response.status);
  }
  return body;
}

export function listModels() {
  return call("/v1/models");
}

export async function readiness() {
  const response = await fetch("/readyz");
  return response.json();
}

// body: a string (JSON ink), a Blob (audio) or FormData (an uploaded file).
export function transcribe(body, contentType, model, signal) {
  const headers = contentType ? { "Content-Type": contentType } : {};
  const query = model ? `?model=${encodeURIComponent(model)}` : "";
  return call(`/v1/transcribe${query}`, { method: "POST", body, headers, signal });
}
