// The upload page: Uppy's dashboard over tus (resumable; golden retriever restores the
// queue after a reload or a closed tab), metadata from the form, then a link to each new
// item whose preview state is polled until it is ready.
import { Uppy, Dashboard, Tus, GoldenRetriever } from "/static/vendor/uppy/uppy.min.mjs";

const form = document.getElementById("upload-form");
const results = document.getElementById("upload-results");
const FIELDS = ["member", "category", "series", "episode", "title", "description",
  "shotlist", "languages", "location", "restrictions", "embargo"];
const SIDECAR = /\.(json|xml|xmp)$/i;

function stem(name) {
  return name.replace(/(\.[a-z]{2,3})?\.[^.]+$/i, "");
}

function formMeta() {
  const meta = {};
  for (const name of FIELDS) {
    const el = form.elements.namedItem(name);
    if (el && el.value.trim()) meta[name] = el.value.trim();
  }
  if (meta.embargo && !meta.embargo.endsWith("Z")) meta.embargo += ":00Z";
  return meta;
}

// The form survives a reload too (golden retriever keeps the files, this the metadata).
const SAVED = "ortak-upload-form";
try {
  const saved = JSON.parse(localStorage.getItem(SAVED) || "{}");
  for (const [name, value] of Object.entries(saved)) {
    const el = form.elements.namedItem(name);
    if (el && !el.value) el.value = value;
  }
} catch (e) { /* nothing saved */ }
form.addEventListener("input", () => localStorage.setItem(SAVED, JSON.stringify(formMeta())));

const uppy = new Uppy({ id: "ortak-upload", autoProceed: false, allowMultipleUploadBatches: true })
  .use(Dashboard, {
    inline: true,
    target: "#uppy",
    showProgressDetails: true,
    proudlyDisplayPoweredByUppy: false,
    fileManagerSelectionType: "both",
    height: 360,
  })
  .use(Tus, {
    endpoint: form.dataset.endpoint,
    chunkSize: 50 * 1024 * 1024,
    retryDelays: [0, 1000, 3000, 5000, 10000],
    removeFingerprintOnSuccess: true,
    headers: { "X-CSRF-Token": form.dataset.csrf },
    allowedMetaFields: true,
  })
  .use(GoldenRetriever, { serviceWorker: false });

uppy.on("upload", () => {
  // The form as it is when sending: each file gets it, and a sidecar of its own is kept.
  const meta = formMeta();
  const files = uppy.getFiles();
  const sidecars = new Set(files.filter((f) => SIDECAR.test(f.name)).map((f) => stem(f.name)));
  for (const f of files) {
    const extra = { filename: f.name };
    if (f.meta.relativePath) extra.relativePath = f.meta.relativePath;
    if (sidecars.has(stem(f.name))) extra.nosidecar = "1";
    uppy.setFileMeta(f.id, { ...meta, ...extra });
  }
});

function row(name) {
  const li = document.createElement("li");
  li.textContent = name + " — ";
  results.appendChild(li);
  return li;
}

async function follow(li, itemId) {
  const a = document.createElement("a");
  a.href = `/items/${encodeURIComponent(itemId)}`;
  a.textContent = itemId;
  li.appendChild(a);
  const state = document.createElement("span");
  state.className = "preview-state";
  li.appendChild(document.createTextNode(" "));
  li.appendChild(state);
  for (let i = 0; i < 240; i++) { // at most 20 minutes of polling, every 5 s
    const r = await fetch(`/api/v1/items/${encodeURIComponent(itemId)}`, { headers: { Accept: "application/json" } });
    if (r.ok) {
      const item = await r.json();
      const p = (item.preview && item.preview.state) || "pending";
      state.textContent = `(${p === "ready" ? "preview ready" : "preview " + p})`;
      if (p === "ready" && item.preview.files && item.preview.files["poster.jpg"] !== undefined) {
        const img = document.createElement("img");
        img.src = `/api/v1/items/${encodeURIComponent(itemId)}/previews/poster.jpg`;
        img.alt = "";
        img.width = 160;
        li.appendChild(img);
      }
      if (p === "ready" || p === "failed" || p === "none") return;
    } else {
      state.textContent = "(cataloguing…)";
    }
    await new Promise((res) => setTimeout(res, 5000));
  }
}

uppy.on("upload-success", async (file, response) => {
  const li = row(file.name);
  li.dataset.file = file.name;
  try {
    const r = await fetch(response.uploadURL, { headers: { Accept: "application/json" } });
    const info = await r.json();
    li.dataset.path = info.path;
    if (info.item) await follow(li, info.item);
    else li.appendChild(document.createTextNode(info.path));
  } catch (e) {
    li.appendChild(document.createTextNode("sent"));
  }
});

uppy.on("complete", (result) => {
  if (result.failed.length === 0) localStorage.removeItem(SAVED);
});

uppy.on("upload-error", (file, error) => {
  const li = row(file ? file.name : "?");
  li.className = "error";
  li.setAttribute("role", "alert");
  let msg = error && error.message ? error.message : String(error);
  const body = error && error.originalResponse && error.originalResponse.getBody && error.originalResponse.getBody();
  if (body) {
    try { msg = JSON.parse(body).error || msg; } catch (e) { /* plain text */ }
  }
  li.appendChild(document.createTextNode(msg));
});

window.ortakUppy = uppy; // for operators debugging a stuck upload from the console
