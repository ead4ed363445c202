// Real or fake?: deal a round, time the answer from the moment the image is shown, show the truth.
// HYPE-time (data-mode="time"): the image is hidden after the round's exposure_ms.
"use strict";
const game = document.getElementById("game");
const img = document.getElementById("game-image"), feedback = document.getElementById("feedback");
const buttons = [...game.querySelectorAll("button[data-answer]")];
let round = null, shownAt = 0, count = 0, right = 0, hideTimer = null;
const dealBody = { mode: game.dataset.mode || "inf", pool: Number(game.dataset.pool || 0) };

async function deal() {
  buttons.forEach((b) => (b.disabled = true));
  try {
    clearTimeout(hideTimer);
    img.style.visibility = "hidden";
    round = await ganforge.post(game.dataset.rounds, dealBody);
    await ganforge.showImage(img, round.image_url, feedback);
    img.style.visibility = "visible";
    shownAt = performance.now();
    if (round.exposure_ms) {
      hideTimer = setTimeout(() => (img.style.visibility = "hidden"), round.exposure_ms);
      document.getElementById("exposure").textContent = round.exposure_ms + " ms";
    }
    buttons.forEach((b) => (b.disabled = false));
  } catch (e) {
    ganforge.say(feedback, e.message, true);
  }
}

buttons.forEach((b) => b.addEventListener("click", async () => {
  if (!round || b.disabled) return;
  buttons.forEach((x) => (x.disabled = true));
  const ms = Math.round(performance.now() - shownAt);
  try {
    const r = await ganforge.post("/api/game/rounds/" + round.id + "/answer", { answer: b.dataset.answer, response_ms: ms });
    count += 1; right += r.correct ? 1 : 0;
    document.getElementById("count").textContent = count;
    document.getElementById("right").textContent = right;
    ganforge.say(feedback, (r.correct ? "Right: " : "Wrong: ") + "it was " + r.truth + ".");
    game.dataset.answered = String(count);
  } catch (e) {
    ganforge.say(feedback, e.message, true);
  }
  deal();
}));
deal();
