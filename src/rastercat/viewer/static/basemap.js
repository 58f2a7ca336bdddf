/* The basemap: Natural Earth 1:50m countries shipped with the package (no tile server, no
 * internet), drawn on a canvas below the image tiles.
 *
 * world-atlas stores polygons for a spherical renderer: a ring that crosses the antimeridian
 * (Russia, Fiji, ...) jumps from +180 to -180, which a flat map draws as a line across the whole
 * world. Each such ring is unwrapped into continuous longitudes, and land near the antimeridian is
 * drawn on both sides of it. */
"use strict";

(function (rc) {
  const { map, state } = rc;
  map.createPane("basemap").style.zIndex = 150;  // under tilePane (200)
  map.attributionControl.addAttribution("Natural Earth");

  /** Longitudes made continuous: no step between neighbours is more than 180 degrees. */
  function unwrap(ring) {
    const out = [[ring[0][0], ring[0][1]]];
    let shift = 0;
    for (let i = 1; i < ring.length; i++) {
      const step = ring[i][0] - ring[i - 1][0];
      if (step > 180) shift -= 360;
      else if (step < -180) shift += 360;
      out.push([ring[i][0] + shift, ring[i][1]]);
    }
    return out;
  }

  const NEAR = 90;  // degrees of longitude from the antimeridian drawn on both sides of it
  const shifted = (ring, dx) => ring.map(([x, y]) => [x + dx, y]);
  const meanX = (ring) => ring.reduce((s, p) => s + p[0], 0) / ring.length;

  /** One polygon's rings as polygons that never jump across the map. */
  function splitPolygon(rings) {
    const unwrapped = rings.map(unwrap);
    const outer = unwrapped[0];
    // A ring around a pole (Antarctica) winds through 360 degrees: it is already drawn right.
    if (Math.abs(outer[outer.length - 1][0] - outer[0][0]) > 180) return [rings];
    const centre = meanX(outer);
    const aligned = unwrapped.map((ring, i) => {
      if (i === 0) return ring;
      const dx = Math.round((centre - meanX(ring)) / 360) * 360;  // holes beside their outer ring
      return dx ? shifted(ring, dx) : ring;
    });
    // Drawn again one world to the east or west when near the antimeridian: the far end of a
    // ring that crosses it (Chukotka, Fiji), and the land beside a view centred on it (Alaska
    // east of Chukotka), both show.
    const xs = outer.map((p) => p[0]);
    const out = [aligned];
    if (Math.max(...xs) > NEAR) out.push(aligned.map((r) => shifted(r, -360)));
    if (Math.min(...xs) < -NEAR) out.push(aligned.map((r) => shifted(r, 360)));
    return out;
  }

  function splitGeometry(geometry) {
    if (!geometry) return geometry;
    const polygons = geometry.type === "Polygon" ? [geometry.coordinates]
      : geometry.type === "MultiPolygon" ? geometry.coordinates : null;
    if (!polygons) return geometry;
    return { type: "MultiPolygon", coordinates: polygons.flatMap(splitPolygon) };
  }

  rc.splitAntimeridian = splitGeometry;

  fetch("/viewer/static/vendor/world-atlas/countries-50m.json")
    .then((r) => r.json())
    .then((topo) => {
      const countries = topojson.feature(topo, topo.objects.countries);
      for (const f of countries.features) f.geometry = splitGeometry(f.geometry);
      state.basemap = L.geoJSON(countries, {
        pane: "basemap",
        renderer: L.canvas({ pane: "basemap", padding: 0.5 }),
        interactive: false,
        style: { color: "#a9b4c2", weight: 0.7, fillColor: "#f4f2ed", fillOpacity: 1 },
      }).addTo(map);
    })
    .catch(() => { /* the map still works without it */ });
})(window.rcViewer);
