// Explore: grid from a seed with truncation and class (and latent space, style-based runs); click an image
// to edit it with sliders.
"use strict";
const ex = document.getElementById("explore"), api = ex.dataset.api;
const grid = document.getElementById("grid"), status = document.getElementById("status");
const $ = (id) => document.getElementById(id);
let shown = { seed: 0, n: 16 };

function params() {
  const p = { seed: $("seed").value, n: $("n").value, psi: $("psi").value };
  if ($("class") && $("class").value !== "") p.class = $("class").value;
  if ($("space")) p.space = $("space").value;
  return p;
}

async function loadGrid() {
  const p = params();
  try {
    await ganforge.showImage(grid, api + "/grid.png?" + new URLSearchParams(p), status);
    shown = { seed: Number(p.seed), n: Number(p.n) };
    ex.dataset.grids = String(Number(ex.dataset.grids || 0) + 1);
  } catch (e) { /* message shown */ }
}

$("grid-form").addEventListener("submit", (e) => { e.preventDefault(); loadGrid(); });
$("psi").addEventListener("input", () => { $("psi-out").textContent = $("psi").value; });
$("psi").addEventListener("change", loadGrid);
if ($("space")) $("space").addEventListener("change", loadGrid);

// The grid is image_grid's layout: ceil(sqrt(n)) columns of cells with 2-pixel padding. A cell is R pixels
// square, or 2R wide for a CoGAN's side-by-side pairs, so its size is read off the grid itself.
grid.addEventListener("click", (e) => {
  const cols = Math.ceil(Math.sqrt(shown.n)), rows = Math.ceil(shown.n / cols);
  const x = e.offsetX * grid.naturalWidth / grid.clientWidth, y = e.offsetY * grid.naturalHeight / grid.clientHeight;
  const col = Math.floor((x - 2) / ((grid.naturalWidth - 2) / cols));
  const row = Math.floor((y - 2) / ((grid.naturalHeight - 2) / rows));
  const i = row * cols + col;
  if (col < 0 || col >= cols || i < 0 || i >= shown.n) return;
  ganforge.editor($("editor"), api, "seed:" + (shown.seed + i), $("psi").value, $("space") ? $("space").value : "");
});
loadGrid();
