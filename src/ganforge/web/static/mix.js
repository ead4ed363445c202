// Mix: the style-mixing grid, re-rendered whenever the seeds, the layers or the truncation change.
"use strict";
const mx = document.getElementById("mix"), $ = (id) => document.getElementById(id);

async function loadMix() {
  const p = { rows: $("rows").value, cols: $("cols").value, layers: $("layers").value, psi: $("psi").value };
  try {
    await ganforge.showImage($("grid"), mx.dataset.api + "/mix.png?" + new URLSearchParams(p), $("status"));
  } catch (e) { /* message shown */ }
}

$("mix-form").addEventListener("submit", (e) => { e.preventDefault(); loadMix(); });
$("layers").addEventListener("change", loadMix);
$("psi").addEventListener("input", () => { $("psi-out").textContent = $("psi").value; });
$("psi").addEventListener("change", loadMix);
loadMix();
