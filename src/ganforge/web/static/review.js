// Data-set review: click to drop/keep, or J/K to move, X to drop, Enter to keep; each decision is saved at once.
"use strict";
const review = document.getElementById("review"), feedback = document.getElementById("feedback");
const items = [...review.querySelectorAll(".review-item")];
let cursor = 0;

function focusItem(i) {
  cursor = Math.max(0, Math.min(items.length - 1, i));
  items.forEach((el, j) => el.classList.toggle("cursor", j === cursor));
  if (items[cursor]) items[cursor].focus();
}

async function decide(el, keep) {
  const was = el.classList.contains("dropped") ? false : el.classList.contains("kept") ? true : null;
  if (was === keep) return;
  try {
    await ganforge.post(review.dataset.decisions, { item: Number(el.dataset.item), keep, run: review.dataset.run || undefined });
    el.classList.toggle("dropped", !keep);
    el.classList.toggle("kept", keep);
    const n = (id, d) => { const s = document.getElementById(id); s.textContent = String(Number(s.textContent) + d); };
    if (was !== null) n(was ? "kept" : "dropped", -1);
    n(keep ? "kept" : "dropped", 1);
    review.dataset.saved = String(Number(review.dataset.saved || 0) + 1);
  } catch (e) {
    ganforge.say(feedback, e.message, true);
  }
}

items.forEach((el, i) => el.addEventListener("click", () => {
  focusItem(i);
  decide(el, el.classList.contains("dropped"));  // a click toggles: dropped -> kept, else -> dropped
}));
document.addEventListener("keydown", (e) => {
  if (e.target.closest && e.target.closest("input, textarea")) return;
  const el = items[cursor];
  if (e.key === "j") focusItem(cursor + 1);
  else if (e.key === "k") focusItem(cursor - 1);
  else if (e.key === "x" && el) { decide(el, false); focusItem(cursor + 1); }
  else if (e.key === "Enter" && el) { decide(el, true); focusItem(cursor + 1); }
  else return;
  e.preventDefault();
});
focusItem(0);
