/* rastercat viewer: talks only to the public HTTP API (and /viewer/v1 for local sign-in and uploads).
 * Plain browser JavaScript, no build step. The token lives in localStorage; tile URLs carry it as
 * ?token= because <img> tiles cannot send headers. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { token: null, product: null, bands: {}, footprints: null, tiles: null };
  const map = L.map("map", { worldCopyJump: true }).setView([20, 0], 2);
  window.rcViewer = { map, state };

  // ---- basemap: Natural Earth 1:50m countries, shipped with the package (no tile server, no
  // internet), drawn on a canvas below the image tiles ----------------------------------------
  map.createPane("basemap").style.zIndex = 150;  // under tilePane (200)
  map.attributionControl.addAttribution("Natural Earth");
  fetch("/viewer/static/vendor/world-atlas/countries-50m.json")
    .then((r) => r.json())
    .then((topo) => {
      state.basemap = L.geoJSON(topojson.feature(topo, topo.objects.countries), {
        pane: "basemap",
        renderer: L.canvas({ pane: "basemap" }),
        interactive: false,
        style: { color: "#9aa8b8", weight: 0.8, fillColor: "#f3f1ec", fillOpacity: 1 },
      }).addTo(map);
    })
    .catch(() => { /* the map still works without it */ });

  // ---- HTTP -------------------------------------------------------------------------------
  async function api(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (state.token) headers["Authorization"] = state.token;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(options.json);
    }
    const r = await fetch(path, Object.assign({}, options, { headers }));
    if (r.status === 401) { showSignIn("Your token was not accepted."); throw new Error("401"); }
    if (!r.ok) {
      let detail = r.statusText;
      try { detail = (await r.json()).errors[0].detail; } catch (e) { /* not JSON */ }
      throw new Error(detail);
    }
    return r.json();
  }

  // ---- sign in ----------------------------------------------------------------------------
  function showSignIn(message) {
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
  }

  async function signIn(token) {
    state.token = token;
    const me = await api("/whoami");
    localStorage.setItem("rastercat.token", token);
    $("signin").hidden = true;
    $("whoami").textContent = me.name;
    await loadProducts();
    refreshUploads();
  }

  async function start() {
    const saved = localStorage.getItem("rastercat.token");
    if (saved) {
      try { await signIn(saved); return; } catch (e) { localStorage.removeItem("rastercat.token"); }
    }
    try {
      // Only answers on the machine `rastercat serve` runs on.
      const r = await fetch("/viewer/v1/local-token");
      if (r.ok) { await signIn((await r.json()).token); return; }
    } catch (e) { /* no local sign-in */ }
    showSignIn();
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await signIn($("token-input").value.trim()); }
    catch (e) { showSignIn("Sign-in failed: " + e.message); }
  });
  $("signout").addEventListener("click", () => {
    localStorage.removeItem("rastercat.token");
    state.token = null;
    showSignIn();
  });

  // ---- products and bands -----------------------------------------------------------------
  async function loadProducts() {
    const products = await api("/metadata/v1/products/search", { method: "POST", json: {} });
    const select = $("product");
    select.length = 1;
    for (const p of products) {
      const opt = document.createElement("option");
      opt.value = p.id;
      opt.textContent = p.title ? `${p.title} (${p.id.split(":").pop()})` : p.id;
      opt.dataset.title = p.description || "";
      select.appendChild(opt);
    }
  }

  function fillBandSelect(select, names, chosen) {
    select.length = 0;
    for (const n of names) {
      const opt = document.createElement("option");
      opt.value = opt.textContent = n;
      select.appendChild(opt);
    }
    if (chosen && names.includes(chosen)) select.value = chosen;
  }

  $("product").addEventListener("change", async () => {
    const pid = $("product").value;
    state.product = pid || null;
    clearFootprints();
    if (!pid) { $("display").hidden = $("search").hidden = true; updateTiles(); return; }
    $("product-title").textContent = $("product").selectedOptions[0].dataset.title;
    const bands = Object.values(await api(`/metadata/v1/bands/all/${encodeURIComponent(pid)}`));
    bands.sort((a, b) => (a.srcband || 0) - (b.srcband || 0));
    state.bands = Object.fromEntries(bands.map((b) => [b.name, b]));
    const names = bands.filter((b) => b.name !== "alpha").map((b) => b.name);
    fillBandSelect($("band"), names);
    const guess = (c) => names.find((n) => n.toLowerCase().startsWith(c));
    fillBandSelect($("band-r"), names, guess("r") || names[0]);
    fillBandSelect($("band-g"), names, guess("g") || names[1 % names.length]);
    fillBandSelect($("band-b"), names, guess("b") || names[2 % names.length]);
    $("display").hidden = $("search").hidden = false;
    setRangeFromBand();
    await zoomToProduct(pid);
    updateTiles();
    search();
  });

  function mode() { return document.querySelector("input[name=mode]:checked").value; }

  function setRangeFromBand() {
    const b = state.bands[mode() === "rgb" ? $("band-r").value : $("band").value];
    const range = b && (b.default_range || b.data_range);
    $("range-min").value = range ? range[0] : "";
    $("range-max").value = range ? range[1] : "";
  }

  for (const el of document.querySelectorAll("input[name=mode]")) {
    el.addEventListener("change", () => {
      $("single").hidden = mode() === "rgb";
      $("rgb").hidden = mode() !== "rgb";
      setRangeFromBand();
      updateTiles();
    });
  }
  $("band").addEventListener("change", () => { setRangeFromBand(); updateTiles(); });
  for (const id of ["band-r", "band-g", "band-b", "colormap", "range-min", "range-max", "start", "end"]) {
    $(id).addEventListener("change", updateTiles);
  }

  async function zoomToProduct(pid) {
    try {
      const tj = await api(`/tiles/v1/products/${encodeURIComponent(pid)}/tilejson.json`);
      const [w, s, e, n] = tj.bounds;
      map.fitBounds([[s, w], [n, e]], { maxZoom: tj.maxzoom });
    } catch (e) { /* keep the view */ }
  }

  // ---- tiles ------------------------------------------------------------------------------
  function tileUrl() {
    const q = new URLSearchParams();
    if (mode() === "rgb") {
      q.set("bands", [$("band-r").value, $("band-g").value, $("band-b").value].join(","));
    } else {
      q.set("bands", $("band").value);
      if ($("colormap").value) q.set("colormap", $("colormap").value);
    }
    const lo = $("range-min").value, hi = $("range-max").value;
    if (lo !== "" && hi !== "") q.set("rescale", `${lo},${hi}`);
    if ($("start").value) q.set("start_datetime", $("start").value + "T00:00:00Z");
    if ($("end").value) q.set("end_datetime", $("end").value + "T23:59:59Z");
    q.set("token", state.token);
    return `/tiles/v1/products/${encodeURIComponent(state.product)}/{z}/{x}/{y}.png?${q}`;
  }

  function updateTiles() {
    if (state.tiles) { map.removeLayer(state.tiles); state.tiles = null; }
    if (!state.product) return;
    state.tilesLoaded = false;
    state.tiles = L.tileLayer(tileUrl(), { maxZoom: 22, maxNativeZoom: 22, className: "rc-tiles" });
    // Lets a page (and the browser test) tell when every visible tile has arrived.
    state.tiles.on("loading", () => { state.tilesLoaded = false; });
    state.tiles.on("load", () => { state.tilesLoaded = true; });
    state.tiles.addTo(map);
  }

  // ---- search and footprints --------------------------------------------------------------
  function clearFootprints() {
    if (state.footprints) { map.removeLayer(state.footprints); state.footprints = null; }
    $("properties").textContent = "";
  }

  async function search() {
    if (!state.product) return;
    const b = map.getBounds();
    const w = Math.max(b.getWest(), -180), e = Math.min(b.getEast(), 180);
    const s = Math.max(b.getSouth(), -90), n = Math.min(b.getNorth(), 90);
    const body = {
      products: [state.product],
      geom: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
      limit: 500,
      sort_order: "desc",
    };
    if ($("start").value) body.start_datetime = $("start").value + "T00:00:00Z";
    if ($("end").value) body.end_datetime = $("end").value + "T23:59:59Z";
    $("search-status").textContent = "searching…";
    const features = await api("/metadata/v1/search", { method: "POST", json: body });
    clearFootprints();
    state.footprints = L.geoJSON(
      { type: "FeatureCollection", features: features.filter((f) => f.geometry) },
      {
        style: { color: "#e8590c", weight: 2, fill: true, fillOpacity: 0.02, className: "rc-footprint" },
        onEachFeature: (f, layer) => layer.on("click", () => showProperties(f)),
      },
    ).addTo(map);
    $("search-status").textContent =
      `${features.length} image${features.length === 1 ? "" : "s"}${features.length === 500 ? " (first 500)" : ""}`;
  }
  $("search-button").addEventListener("click", search);

  function showProperties(feature) {
    const table = document.createElement("table");
    table.id = "properties-table";
    const rows = Object.assign({ id: feature.id }, feature.properties);
    for (const [k, v] of Object.entries(rows)) {
      const tr = table.insertRow();
      tr.insertCell().textContent = k;
      tr.insertCell().textContent = typeof v === "object" ? JSON.stringify(v) : String(v);
    }
    $("properties").replaceChildren(table);
  }

  // ---- recent uploads ---------------------------------------------------------------------
  async function refreshUploads() {
    if (!state.token) return;
    try {
      const { data } = await api("/viewer/v1/uploads/recent?limit=15");
      const list = $("uploads");
      list.replaceChildren();
      for (const u of data) {
        const li = document.createElement("li");
        const name = document.createElement("span");
        name.textContent = u.attributes.image_id.split(":").slice(-1)[0];
        name.title = u.attributes.image_id;
        const status = document.createElement("span");
        status.className = `status-${u.attributes.status}`;
        status.textContent = u.attributes.status;
        li.append(name, status);
        list.appendChild(li);
      }
    } catch (e) { /* shown again on the next refresh */ }
  }
  setInterval(refreshUploads, 5000);

  start();
})();
