// Embed: upload -> projection job with progress -> sliders on the found latent; children of two photos.
"use strict";
const em = document.getElementById("embed"), api = em.dataset.api;
const $ = (id) => document.getElementById(id), status = $("status");
const latents = [];

$("photo").addEventListener("change", () => {
  const f = $("photo").files[0];
  if (f) $("original").src = URL.createObjectURL(f);
});

$("embed-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData();
  form.append("image", $("photo").files[0]); form.append("steps", $("steps").value);
  try {
    let job = await ganforge.post(api + "/embed", form);
    job = await ganforge.waitJob(job, (j) => {
      $("progress").max = j.progress.total || 1; $("progress").value = j.progress.step;
      ganforge.say(status, `${j.status} step ${j.progress.step}/${j.progress.total}` +
        (j.progress.loss !== null ? ` loss ${j.progress.loss.toFixed(4)}` : ""));
    });
    ganforge.say(status, `done: PSNR ${job.data.psnr.toFixed(1)} dB`);
    latents.push(job.data.latent);
    const thumb = Object.assign(document.createElement("img"), { src: job.result_url, className: "thumb", title: job.data.latent });
    $("embedded").append(thumb);
    $("child").disabled = latents.length < 2;
    ganforge.editor($("editor"), api, job.data.latent);
  } catch (err) { ganforge.say(status, err.message, true); }
});

$("child").addEventListener("click", async () => {
  try {
    const c = await ganforge.post(api + "/child", { a: latents.at(-2), b: latents.at(-1) });
    await ganforge.showImage($("child-image"), c.image_url, status);
  } catch (err) { ganforge.say(status, err.message, true); }
});
