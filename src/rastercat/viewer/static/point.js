/* rastercat viewer, point query: click the map to see the value of every band of each image under
 * that point (GET /raster/v1/point), newest first, with the image ids and dates. */
"use strict";

(function (rc) {
  const { state, map, api, el } = rc;
  const LIMIT = 20;
  let marker = null;

  function format(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number" && !Number.isInteger(v)) return Number(v.toPrecision(6)).toString();
    return String(v);
  }

  function content(lon, lat, data) {
    const box = el("div", { className: "rc-point" },
      el("div", { className: "point-head" },
        el("strong", { textContent: `${lat.toFixed(5)}°, ${lon.toFixed(5)}°` }),
        el("span", { className: "muted", textContent: ` · ${data.length} image${data.length === 1 ? "" : "s"}` })));
    if (!data.length) {
      box.append(el("p", { className: "muted", textContent: "No image of this product here." }));
      return box;
    }
    const names = Object.keys(data[0].values);
    const table = el("table", { id: "point-table" });
    const head = table.createTHead().insertRow();
    head.append(el("th", { textContent: "image" }), el("th", { textContent: "acquired" }),
      ...names.map((n) => el("th", { textContent: n })));
    const body = table.createTBody();
    for (const d of data) {
      const tr = body.insertRow();
      tr.dataset.imageId = d.image_id;
      const id = tr.insertCell();
      id.append(el("span", { className: "dot", style: `background:${rc.dateColour(Date.parse(d.acquired) / 1000)}` }),
        rc.shortId(d.image_id));
      id.title = d.image_id;
      tr.insertCell().textContent = rc.day(d.acquired);
      for (const n of names) {
        const td = tr.insertCell();
        td.textContent = format(d.values[n]);
        td.className = d.values[n] === null || d.values[n] === undefined ? "num null" : "num";
      }
    }
    box.append(el("div", { className: "point-scroll" }, table));
    return box;
  }

  map.on("click", async (ev) => {
    if (!state.product || !state.token) return;
    const lat = ev.latlng.lat;
    const lon = ((((ev.latlng.lng + 180) % 360) + 360) % 360) - 180;  // world copies: back to -180..180
    const q = new URLSearchParams({ lon, lat, products: state.product, limit: LIMIT });
    const start = document.getElementById("start").value, end = document.getElementById("end").value;
    if (start) q.set("start_datetime", start + "T00:00:00Z");
    if (end) q.set("end_datetime", end + "T23:59:59Z");
    if (marker) marker.remove();
    marker = L.popup({ maxWidth: 560, className: "rc-point-popup", autoPanPaddingTopLeft: [10, 40] })
      .setLatLng(ev.latlng).setContent("<span class='muted'>reading pixels…</span>").openOn(map);
    try {
      const { data } = await api(`/raster/v1/point?${q}`);
      state.lastPoint = { lon, lat, data };
      marker.setContent(content(lon, lat, data));
    } catch (e) {
      marker.setContent(el("span", { className: "error", textContent: e.message }));
    }
  });
})(window.rcViewer);
