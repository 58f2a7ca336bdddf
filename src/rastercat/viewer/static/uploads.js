/* rastercat viewer, uploads: drop GeoTIFF / JPEG2000 files on the map and they go into the chosen
 * product with the 0.17 two-step upload (POST …/images/upload/{key} gives a URL; PUT the bytes
 * there, with a progress bar), then the page waits for processing with a long poll
 * (GET …/uploads/{key}?wait=30) and shows the new image. Also the list of recent uploads. */
"use strict";

(function (rc) {
  const { $, state, api, on, emit, el } = rc;
  const WAIT = 30;
  const CATALOG = "/metadata/v1/catalog";
  const ACCEPTED = /\.(tif|tiff|gtiff|jp2|j2k|jpx)$/i;

  // ---- drop zone ----------------------------------------------------------------------------
  const zone = $("dropzone");
  let depth = 0;
  const hasFiles = (ev) => ev.dataTransfer && [...ev.dataTransfer.types].includes("Files");

  function canUpload() { return state.product && rc.may("write", state.productDoc); }

  // A file dropped anywhere else must not make the browser open it (and leave the viewer).
  for (const type of ["dragover", "drop"]) {
    document.addEventListener(type, (ev) => { if (hasFiles(ev)) ev.preventDefault(); });
  }
  const wrap = $("map-wrap");
  wrap.addEventListener("dragenter", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth++;
    $("dropzone-product").textContent = canUpload() ? state.productDoc.title || state.product
      : "— choose a product you may write to first";
    zone.classList.toggle("refused", !canUpload());
    zone.hidden = false;
  });
  wrap.addEventListener("dragover", (ev) => { if (hasFiles(ev)) ev.preventDefault(); });
  wrap.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; zone.hidden = true; } });
  wrap.addEventListener("drop", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth = 0;
    zone.hidden = true;
    if (!canUpload()) { rc.report("Choose a product you may write to, then drop the files again."); return; }
    for (const file of ev.dataTransfer.files) uploadFile(state.product, file);
  });

  // ---- one upload ---------------------------------------------------------------------------
  function transferRow(file) {
    const bar = el("div", { className: "bar" });
    const status = el("span", { className: "status", textContent: "starting" });
    const li = el("li", { className: "transfer", dataset: { name: file.name } },
      el("div", { className: "transfer-head" }, el("span", { className: "name", textContent: file.name, title: file.name }), status),
      el("div", { className: "progress" }, bar));
    $("transfers").prepend(li);
    return {
      li,
      progress(f) { bar.style.width = `${Math.round(f * 100)}%`; },
      status(text, kind) { status.textContent = text; li.dataset.state = kind || "active"; },
    };
  }

  function put(url, file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) { onProgress(1); resolve(); return; }
        let detail = `HTTP ${xhr.status}`;
        try { detail = JSON.parse(xhr.responseText).errors[0].detail; } catch (e) { /* not JSON */ }
        reject(new Error(detail));
      };
      xhr.onerror = () => reject(new Error("the upload was interrupted"));
      xhr.send(file);
    });
  }

  async function uploadFile(pid, file) {
    const row = transferRow(file);
    const base = `${CATALOG}/products/${encodeURIComponent(pid)}`;
    try {
      if (!ACCEPTED.test(file.name)) throw new Error("not a GeoTIFF or JPEG2000 file name");
      const key = file.name;
      const url = await api(`${base}/images/upload/${encodeURIComponent(key)}`, {
        method: "POST", json: { process_controls: { upload_type: "file" } }, text: true,
      });
      row.status("uploading");
      await put(url, file, (f) => { row.progress(f); row.status(`uploading ${Math.round(f * 100)}%`); });
      row.status("processing");
      row.li.classList.add("processing");
      let doc;
      for (;;) {  // long poll: each request is held until the upload is done (or WAIT seconds)
        doc = await api(`${base}/uploads/${encodeURIComponent(key)}?wait=${WAIT}`);
        const s = doc.data.attributes.status;
        if (s === "SUCCESS" || s === "FAILURE") break;
      }
      row.li.classList.remove("processing");
      const attrs = doc.data.attributes;
      if (attrs.status === "SUCCESS") {
        row.status("ready", "done");
        row.li.title = attrs.image_id || "";
        emit("images-changed", pid);
      } else {
        const why = (attrs.logs || attrs.exception_name || "processing failed").trim().split("\n").slice(-1)[0];
        row.status("failed", "failed");
        row.li.append(el("p", { className: "error", textContent: why }));
      }
    } catch (e) {
      row.status("failed", "failed");
      row.li.append(el("p", { className: "error", textContent: e.message }));
    }
    refreshUploads();
  }
  rc.uploadFile = uploadFile;

  // ---- recent uploads -------------------------------------------------------------------------
  async function refreshUploads() {
    if (!state.token || !state.me) return;
    try {
      const { data } = await api("/viewer/v1/uploads/recent?limit=10");
      const title = (pid) => (state.products && state.products[pid] && state.products[pid].title) || rc.shortId(pid);
      $("uploads").replaceChildren(...data.map((u) => el("li", {},
        el("span", { className: "name", title: u.attributes.image_id },
          rc.shortId(u.attributes.image_id), el("span", { className: "muted", textContent: ` · ${title(u.attributes.product_id)}` })),
        el("span", { className: `status-${u.attributes.status}`, textContent: u.attributes.status.toLowerCase() }))));
    } catch (e) { /* shown again on the next refresh */ }
  }
  on("signed-in", refreshUploads);
  on("product", () => {
    $("drop-hint").textContent = !state.product
      ? "Choose a product, then drop GeoTIFF or JPEG2000 files on the map to upload them."
      : canUpload() ? "Drop GeoTIFF or JPEG2000 files on the map to upload them into this product."
        : "You may read this product, not upload into it.";
  });
  setInterval(refreshUploads, 10000);
})(window.rcViewer);
