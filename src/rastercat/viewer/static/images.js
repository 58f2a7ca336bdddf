/* rastercat viewer, images: the histogram of acquisition dates (Metadata summary) as a date
 * filter, the search in the map's area with footprints coloured by date (the histogram's colours
 * are the key), and one image's properties (with "delete" for its owners). */
"use strict";

(function (rc) {
  const { $, state, map, api, on, emit, el } = rc;
  const DAY = 86400;
  const BINS = 36;
  const SEARCH_LIMIT = 500;
  const W = 276, H = 64;
  let viridis = null;
  let hist = null;  // {t0, t1, bins: [{t0, t1, count}]}

  async function loadViridis() {
    if (!viridis) {
      try { viridis = (await api("/viewer/v1/colormaps/viridis")).colors; }
      catch (e) { viridis = [[68, 1, 84, 255], [253, 231, 37, 255]]; }
    }
    return viridis;
  }

  /** The colour of an acquisition time: viridis from the product's first to its last date. */
  function dateColour(t) {
    if (!viridis || !hist || !Number.isFinite(t)) return "#e8590c";
    const f = hist.t1 > hist.t0 ? (t - hist.t0) / (hist.t1 - hist.t0) : 1;
    const c = viridis[Math.max(0, Math.min(viridis.length - 1, Math.round(f * (viridis.length - 1))))];
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }
  rc.dateColour = dateColour;

  const toTime = (iso) => (iso ? Date.parse(iso) / 1000 : null);
  const isoDay = (t) => new Date(t * 1000).toISOString().slice(0, 10);

  // ---- histogram ----------------------------------------------------------------------------
  async function loadHistogram(pid) {
    await loadViridis();
    const summary = await api("/metadata/v1/summary", {
      method: "POST", json: { products: [pid], interval: "day" },
    });
    const items = (summary.items || []).filter((i) => i.timestamp !== undefined);
    if (!items.length) { hist = null; drawHistogram(); return; }
    let t0 = Math.min(...items.map((i) => i.timestamp));
    let t1 = Math.max(...items.map((i) => i.timestamp)) + DAY;
    if (t1 - t0 < BINS * DAY) {  // a short span: one bin a day, centred
      const pad = (BINS * DAY - (t1 - t0)) / 2;
      t0 = Math.floor((t0 - pad) / DAY) * DAY; t1 = t0 + BINS * DAY;
    }
    const width = (t1 - t0) / BINS;
    const bins = Array.from({ length: BINS }, (_, k) => ({ t0: t0 + k * width, t1: t0 + (k + 1) * width, count: 0 }));
    for (const i of items) bins[Math.min(BINS - 1, Math.floor((i.timestamp - t0) / width))].count += i.count;
    hist = { t0, t1, bins, total: summary.count };
    drawHistogram();
  }

  function selectedRange() {
    const s = $("start").value ? Date.parse($("start").value + "T00:00:00Z") / 1000 : -Infinity;
    const e = $("end").value ? Date.parse($("end").value + "T23:59:59Z") / 1000 : Infinity;
    return [s, e];
  }

  function drawHistogram() {
    const box = $("histogram");
    if (!hist) { box.replaceChildren(el("p", { className: "muted", textContent: "no dated images yet" })); return; }
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H + 14}`);
    svg.setAttribute("id", "histogram-svg");
    const max = Math.max(...hist.bins.map((b) => b.count), 1);
    const bw = W / hist.bins.length;
    const [s, e] = selectedRange();
    hist.bins.forEach((b, k) => {
      const h = b.count ? Math.max(2, (b.count / max) * (H - 4)) : 0;
      const r = document.createElementNS(NS, "rect");
      r.setAttribute("x", k * bw + 0.5); r.setAttribute("width", Math.max(1, bw - 1));
      r.setAttribute("y", H - h); r.setAttribute("height", h);
      r.setAttribute("fill", dateColour((b.t0 + b.t1) / 2));
      r.setAttribute("class", "bar" + (b.t1 <= s || b.t0 > e ? " out" : ""));
      const title = document.createElementNS(NS, "title");
      title.textContent = `${isoDay(b.t0)} – ${isoDay(b.t1 - 1)}: ${b.count} image${b.count === 1 ? "" : "s"}`;
      r.appendChild(title);
      svg.appendChild(r);
    });
    const axis = document.createElementNS(NS, "line");
    axis.setAttribute("x1", 0); axis.setAttribute("x2", W); axis.setAttribute("y1", H + 0.5); axis.setAttribute("y2", H + 0.5);
    axis.setAttribute("class", "axis");
    svg.appendChild(axis);
    for (const [x, t, anchor] of [[0, hist.t0, "start"], [W, hist.t1 - 1, "end"]]) {
      const label = document.createElementNS(NS, "text");
      label.setAttribute("x", x); label.setAttribute("y", H + 12); label.setAttribute("text-anchor", anchor);
      label.textContent = isoDay(t);
      svg.appendChild(label);
    }
    box.replaceChildren(svg);
    enableBrush(svg, bw);
  }

  /** Drag across the bars (or click one) to filter by those dates. */
  function enableBrush(svg, bw) {
    let from = null;
    const binAt = (ev) => {
      const rect = svg.getBoundingClientRect();
      const x = ((ev.clientX - rect.left) / rect.width) * W;
      return Math.max(0, Math.min(hist.bins.length - 1, Math.floor(x / bw)));
    };
    svg.addEventListener("pointerdown", (ev) => { from = binAt(ev); svg.setPointerCapture(ev.pointerId); });
    svg.addEventListener("pointerup", (ev) => {
      if (from === null) return;
      const to = binAt(ev);
      const a = hist.bins[Math.min(from, to)], b = hist.bins[Math.max(from, to)];
      from = null;
      $("start").value = isoDay(a.t0);
      $("end").value = isoDay(b.t1 - 1);
      datesChanged();
    });
  }

  function datesChanged() {
    drawHistogram();
    emit("dates");
    search().catch(rc.report);
  }
  for (const id of ["start", "end"]) $(id).addEventListener("change", datesChanged);
  $("clear-dates").addEventListener("click", () => { $("start").value = $("end").value = ""; datesChanged(); });

  // ---- search and footprints ------------------------------------------------------------------
  function clearFootprints() {
    if (state.footprints) { map.removeLayer(state.footprints); state.footprints = null; }
    $("properties").replaceChildren();
  }

  async function search() {
    if (!state.product) return;
    const b = map.getBounds();
    const w = Math.max(b.getWest(), -180), e = Math.min(b.getEast(), 180);
    const s = Math.max(b.getSouth(), -90), n = Math.min(b.getNorth(), 90);
    const body = {
      products: [state.product],
      geom: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
      limit: SEARCH_LIMIT,
      sort_order: "desc",
    };
    if ($("start").value) body.start_datetime = $("start").value + "T00:00:00Z";
    if ($("end").value) body.end_datetime = $("end").value + "T23:59:59Z";
    $("search-status").textContent = "searching…";
    const features = await api("/metadata/v1/search", { method: "POST", json: body });
    clearFootprints();
    // Oldest drawn first, so the newest footprints are on top.
    const drawn = features.filter((f) => f.geometry).reverse();
    state.footprints = L.geoJSON({ type: "FeatureCollection", features: drawn }, {
      style: (f) => {
        const colour = dateColour(toTime(f.properties.acquired));
        return { color: colour, weight: 2, fill: true, fillColor: colour, fillOpacity: 0.06, className: "rc-footprint" };
      },
      onEachFeature: (f, layer) => layer.on("click", () => showProperties(f)),
    }).addTo(map);
    const count = features.length;
    $("search-status").textContent =
      `${count} image${count === 1 ? "" : "s"} in this area${count === SEARCH_LIMIT ? " (the newest 500)" : ""}` +
      (hist ? ` · ${hist.total} in the product` : "");
  }
  rc.search = search;
  $("search-button").addEventListener("click", () => search().catch(rc.report));

  function showProperties(feature) {
    const props = feature.properties || {};
    const table = el("table", { id: "properties-table" });
    const rows = Object.assign({ id: feature.id }, props);
    for (const [k, v] of Object.entries(rows)) {
      if (k === "statistics" || k === "geometry") continue;
      const tr = table.insertRow();
      tr.insertCell().textContent = k;
      tr.insertCell().textContent = v !== null && typeof v === "object" ? JSON.stringify(v) : String(v);
    }
    const head = el("div", { className: "props-head" },
      el("span", { className: "dot", style: `background:${dateColour(toTime(props.acquired))}` }),
      el("strong", { textContent: rc.shortId(feature.id) }),
      el("span", { className: "muted", textContent: rc.day(props.acquired) }));
    const actions = el("div", { className: "actions" });
    if (rc.may("own", props)) {
      actions.append(el("button", {
        id: "delete-image", type: "button", className: "danger", textContent: "Delete image…",
        onclick: () => deleteImage(feature).catch(rc.report),
      }));
    }
    $("properties").replaceChildren(head, actions, table);
  }

  async function deleteImage(feature) {
    const ok = await rc.confirmDialog("Delete image",
      `Delete ${feature.id}? Its file is removed too; this cannot be undone.`, "Delete image");
    if (!ok) return;
    const pid = state.product;
    const key = feature.key || feature.properties.key || rc.shortId(feature.id);
    await api(`/metadata/v1/catalog/products/${encodeURIComponent(pid)}/images/${encodeURIComponent(key)}`,
      { method: "DELETE" });
    rc.report(`Deleted ${feature.id}`);
    emit("images-changed", pid);
  }

  async function refresh(pid) {
    if (!pid || pid !== state.product) return;
    await loadHistogram(pid);
    await search();
  }
  on("product", (pid) => { clearFootprints(); hist = null; $("start").value = $("end").value = ""; if (!pid) drawHistogram(); });
  on("view-ready", refresh);
  on("images-changed", async (pid) => {
    state.tileVersion = (state.tileVersion || 0) + 1;
    rc.updateTiles();
    await refresh(pid);
  });
})(window.rcViewer);
