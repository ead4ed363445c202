// The run page: a new grid for the chosen seed.
document.getElementById("seed-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = e.target, grid = document.getElementById("grid");
  if (!grid) return;
  grid.src = form.dataset.gridUrl + "?" + new URLSearchParams({
    seed: document.getElementById("seed").value, n: document.getElementById("n").value });
});
