// The run page: a new grid for the chosen seed (the header's spinner shows while it renders).
"use strict";
document.getElementById("seed-form")?.addEventListener("submit", async (e) => {  // none on a translator's page
  e.preventDefault();
  const form = e.target, grid = document.getElementById("grid"), status = document.getElementById("grid-status");
  if (!grid) return;
  const q = new URLSearchParams({ seed: document.getElementById("seed").value, n: document.getElementById("n").value });
  try { await ganforge.showImage(grid, form.dataset.gridUrl + "?" + q, status, "generating…"); } catch (err) { /* shown */ }
});
