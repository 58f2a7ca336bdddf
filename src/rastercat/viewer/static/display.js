/* rastercat viewer, display: one band with a colormap or three bands as RGB (a stretch per
 * channel), the tile layer, its opacity and the legend.
 *
 * The default stretch is the 2nd-98th percentile of the newest images' statistics (computed at
 * ingest), else the band's default_range, else its data_range. */
"use strict";

(function (rc) {
  const { $, state, map, api, on, emit, el } = rc;
  const CHANNELS = ["r", "g", "b"];
  const STATS_IMAGES = 25;
  const colormapCache = {};

  const mode = () => document.querySelector("input[name=mode]:checked").value;
  rc.mode = mode;

  function fillBandSelect(select, names, chosen) {
    select.replaceChildren(...names.map((n) => el("option", { value: n, textContent: n })));
    if (chosen && names.includes(chosen)) select.value = chosen;
  }

  // ---- statistics and stretch -------------------------------------------------------------
  /** Per band name: the widest p2..p98 (and min..max) over the newest images that have them. */
  async function loadStatistics(pid) {
    state.stats = {};
    let features = [];
    try {
      features = await api("/metadata/v1/search", {
        method: "POST",
        json: { products: [pid], limit: STATS_IMAGES, sort_order: "desc", fields: ["statistics"] },
      });
    } catch (e) { return; }
    for (const band of Object.values(state.bands)) {
      const srcfile = band.srcfile || 0;
      let lo = Infinity, hi = -Infinity, n = 0;
      for (const f of features) {
        const entries = (f.properties && f.properties.statistics) || [];
        const s = entries.find((x) => (x.srcfile || 0) === srcfile && x.srcband === band.srcband);
        if (!s) continue;
        const a = s.p2 !== undefined && s.p2 !== null ? s.p2 : s.min;
        const b = s.p98 !== undefined && s.p98 !== null ? s.p98 : s.max;
        if (a === null || a === undefined || b === null || b === undefined) continue;
        lo = Math.min(lo, a); hi = Math.max(hi, b); n++;
      }
      if (n && hi >= lo) state.stats[band.name] = { range: [lo, hi === lo ? lo + 1 : hi], images: n };
    }
  }

  function round(v) { return Math.abs(v) >= 100 ? Math.round(v) : Number(v.toPrecision(4)); }

  /** [min, max, where it came from] for a band. */
  function defaultRange(name) {
    const s = state.stats && state.stats[name];
    if (s) return [round(s.range[0]), round(s.range[1]), `statistics of ${s.images} image${s.images === 1 ? "" : "s"}`];
    const b = state.bands[name];
    if (b && b.default_range) return [b.default_range[0], b.default_range[1], "the band's default range"];
    if (b && b.data_range) return [b.data_range[0], b.data_range[1], "the band's data range"];
    return ["", "", ""];
  }

  function setRanges() {
    const sources = new Set();
    if (mode() === "rgb") {
      for (const c of CHANNELS) {
        const [lo, hi, from] = defaultRange($(`band-${c}`).value);
        $(`min-${c}`).value = lo; $(`max-${c}`).value = hi;
        if (from) sources.add(from);
      }
    } else {
      const [lo, hi, from] = defaultRange($("band").value);
      $("range-min").value = lo; $("range-max").value = hi;
      if (from) sources.add(from);
    }
    $("stretch-source").textContent = sources.size ? `stretch: ${[...sources].join(", ")}` : "";
  }

  // ---- tiles ------------------------------------------------------------------------------
  function tileQuery() {
    const q = new URLSearchParams();
    if (mode() === "rgb") {
      q.set("bands", CHANNELS.map((c) => $(`band-${c}`).value).join(","));
      for (const c of CHANNELS) {
        const lo = $(`min-${c}`).value, hi = $(`max-${c}`).value;
        if (lo !== "" && hi !== "") q.append("rescale", `${lo},${hi}`);
      }
      if (q.getAll("rescale").length !== 3) q.delete("rescale");
    } else {
      q.set("bands", $("band").value);
      if ($("colormap").value) q.set("colormap", $("colormap").value);
      const lo = $("range-min").value, hi = $("range-max").value;
      if (lo !== "" && hi !== "") q.set("rescale", `${lo},${hi}`);
    }
    if ($("start").value) q.set("start_datetime", $("start").value + "T00:00:00Z");
    if ($("end").value) q.set("end_datetime", $("end").value + "T23:59:59Z");
    return q;
  }

  function updateTiles() {
    if (state.tiles) { map.removeLayer(state.tiles); state.tiles = null; }
    updateLegend();
    if (!state.product) return;
    const q = tileQuery();
    // Tiles may be cached for a minute: after an upload or a deletion, new URLs draw them anew.
    if (state.tileVersion) q.set("v", state.tileVersion);
    q.set("token", state.token);  // <img> tiles cannot send headers
    const url = `/tiles/v1/products/${encodeURIComponent(state.product)}/{z}/{x}/{y}.png?${q}`;
    state.tilesLoaded = false;
    state.tiles = L.tileLayer(url, {
      maxZoom: 22, maxNativeZoom: 22, className: "rc-tiles", opacity: Number($("opacity").value),
    });
    // Lets a page (and the browser test) tell when every visible tile has arrived.
    state.tiles.on("loading", () => { state.tilesLoaded = false; });
    state.tiles.on("load", () => { state.tilesLoaded = true; });
    state.tiles.addTo(map);
  }
  rc.updateTiles = updateTiles;

  $("opacity").addEventListener("input", () => {
    const v = Number($("opacity").value);
    $("opacity-value").textContent = `${Math.round(v * 100)}%`;
    if (state.tiles) state.tiles.setOpacity(v);
  });

  async function zoomToProduct(pid) {
    try {
      const tj = await api(`/tiles/v1/products/${encodeURIComponent(pid)}/tilejson.json`);
      const [w, s, e, n] = tj.bounds;
      if (e - w < 359) map.fitBounds([[s, w], [n, e]], { maxZoom: tj.maxzoom, padding: [20, 20] });
    } catch (e) { /* keep the view */ }
  }

  on("product", async (pid) => {
    if (!pid) { updateTiles(); return; }
    const names = Object.values(state.bands).filter((b) => !isAlpha(b)).map((b) => b.name);
    fillBandSelect($("band"), names);
    const guess = (c) => names.find((n) => n.toLowerCase().startsWith(c));
    fillBandSelect($("band-r"), names, guess("r") || names[0]);
    fillBandSelect($("band-g"), names, guess("g") || names[1 % names.length]);
    fillBandSelect($("band-b"), names, guess("b") || names[2 % names.length]);
    await loadStatistics(pid);
    if (state.product !== pid) return;  // another product was chosen meanwhile
    setRanges();
    await zoomToProduct(pid);
    if (state.product !== pid) return;
    updateTiles();
    emit("view-ready", pid);
  });

  function isAlpha(b) { return b.name === "alpha" || b.color === "Alpha"; }

  for (const input of document.querySelectorAll("input[name=mode]")) {
    input.addEventListener("change", () => {
      $("single").hidden = mode() === "rgb";
      $("rgb").hidden = mode() !== "rgb";
      setRanges();
      updateTiles();
    });
  }
  $("band").addEventListener("change", () => { setRanges(); updateTiles(); });
  for (const c of CHANNELS) {
    $(`band-${c}`).addEventListener("change", () => {
      const [lo, hi] = defaultRange($(`band-${c}`).value);
      $(`min-${c}`).value = lo; $(`max-${c}`).value = hi;
      updateTiles();
    });
    for (const id of [`min-${c}`, `max-${c}`]) $(id).addEventListener("change", updateTiles);
  }
  $("colormap").addEventListener("change", updateTiles);
  for (const id of ["range-min", "range-max", ...CHANNELS.flatMap((c) => [`min-${c}`, `max-${c}`])]) {
    $(id).addEventListener("change", () => { $("stretch-source").textContent = "stretch: your own"; });
  }
  for (const id of ["range-min", "range-max"]) $(id).addEventListener("change", updateTiles);
  on("dates", updateTiles);

  // ---- legend -------------------------------------------------------------------------------
  const legend = L.control({ position: "bottomright" });
  legend.onAdd = () => el("div", { id: "legend", className: "rc-legend", hidden: true });
  legend.addTo(map);

  async function colormapColors(name) {
    if (!colormapCache[name]) {
      colormapCache[name] = api(`/viewer/v1/colormaps/${encodeURIComponent(name)}`).then((r) => r.colors);
    }
    return colormapCache[name];
  }

  function rampCanvas(colors) {
    const canvas = el("canvas", { width: colors.length, height: 1, className: "ramp" });
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(colors.length, 1);
    colors.forEach((c, i) => img.data.set([c[0], c[1], c[2], c[3] === undefined ? 255 : c[3]], i * 4));
    ctx.putImageData(img, 0, 0);
    return canvas;
  }

  const grey = Array.from({ length: 256 }, (_, i) => [i, i, i, 255]);
  const channelRamp = (k) => Array.from({ length: 256 }, (_, i) => { const c = [0, 0, 0, 255]; c[k] = i; return c; });

  async function updateLegend() {
    const box = $("legend");
    if (!box) return;
    if (!state.product) { box.hidden = true; box.replaceChildren(); return; }
    const unit = (name) => (state.bands[name] && state.bands[name].data_unit) || "";
    const rows = [];
    if (mode() === "rgb") {
      CHANNELS.forEach((c, k) => {
        const name = $(`band-${c}`).value;
        rows.push(el("div", { className: "legend-row" },
          el("span", { className: `swatch ${c}`, textContent: c.toUpperCase() }),
          el("div", { className: "legend-ramp" }, rampCanvas(channelRamp(k)),
            el("div", { className: "ticks" }, el("span", { textContent: $(`min-${c}`).value }),
              el("span", { textContent: name }), el("span", { textContent: $(`max-${c}`).value })))));
      });
    } else {
      const name = $("band").value;
      const band = state.bands[name] || {};
      const chosen = $("colormap").value || band.colormap_name;
      // Names the tiles cannot draw (e.g. msw) render grey there, and here: no request for them.
      const known = [...$("colormap").options].map((o) => o.value).filter(Boolean);
      let colors = grey, label = chosen && known.includes(chosen) ? chosen : "grey";
      try {
        if ($("colormap").value || !band.colormap) {
          if (chosen && known.includes(chosen)) colors = await colormapColors(chosen);
        } else {
          colors = band.colormap.map((c) => c.map(Number));
          label = "band colormap";
        }
      } catch (e) { colors = grey; label = "grey"; }
      rows.push(el("div", { className: "legend-title" }, el("strong", { textContent: name }),
        el("span", { className: "muted", textContent: ` ${unit(name)} · ${label}` })));
      rows.push(el("div", { className: "legend-ramp" }, rampCanvas(colors),
        el("div", { className: "ticks" }, el("span", { textContent: $("range-min").value }),
          el("span", { textContent: $("range-max").value }))));
    }
    box.replaceChildren(...rows);
    box.hidden = false;
  }
})(window.rcViewer);
