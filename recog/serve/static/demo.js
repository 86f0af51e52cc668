// The demo page's start: wait for /readyz, ask for the API key when /v1 answers 401, and
// fill each panel's model picker from /v1/models by the models' modality (ink | audio).

import { listModels, readiness, storedKey, storeKey } from "./api.js";
import { InkPanel } from "./ink.js";
import { SpeechPanel } from "./speech.js";

const state = document.querySelector("#service-state");
const keyBox = document.querySelector("#key-box");
const keyForm = document.querySelector("#key-form");
const keyInput = document.querySelector("#key-input");
const keyHelp = document.querySelector("#key-help");

function askForKey(err) {
  state.textContent = `This service needs an API key: ${err.message}.`;
  document.body.dataset.ready = "key";
  keyHelp.textContent = storedKey()
    ? "The stored key was refused. Enter the key of this service."
    : "Enter the key of this service. It is kept in this browser (local storage of this address) "
      + "and sent as X-API-Key.";
  keyBox.open = true;
  keyInput.focus();
}

const ink = new InkPanel(document.querySelector("#ink"), askForKey);
const speech = new SpeechPanel(document.querySelector("#speech"), askForKey);

function fill(select, models, panel, kind) {
  const fitting = models.filter((m) => m.modality === kind);
  select.replaceChildren(...fitting.map((m) => {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = m.quantization && m.quantization !== "none" ? `${m.name} (${m.quantization})` : m.name;
    option.title = m.recipe || m.name;
    return option;
  }));
  select.disabled = !fitting.length;
  select.onchange = () => panel.setModel(select.value);
  panel.setModel(fitting.length ? fitting[0].name : "");
  panel.root.toggleAttribute("inert", !fitting.length);
  panel.root.classList.toggle("unavailable", !fitting.length);
  return fitting.length;
}

async function waitReady() {
  for (;;) {
    try {
      const ready = await readiness();
      if (ready.ready) return;
      state.textContent = "The service is warming up its models…";
    } catch {
      state.textContent = "The service does not answer; trying again…";
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function start() {
  await waitReady();
  let listed;
  try {
    listed = await listModels();
  } catch (err) {
    if (err.status === 401) askForKey(err);
    else state.textContent = `Cannot list the models: ${err.message}`;
    return;
  }
  const inks = fill(document.querySelector("#ink-model"), listed.models, ink, "ink");
  const audios = fill(document.querySelector("#speech-model"), listed.models, speech, "audio");
  const plural = (n, what) => `${n} ${what} model${n === 1 ? "" : "s"}`;
  state.textContent = `Ready: ${plural(inks, "handwriting")}, ${plural(audios, "speech")}.`;
  keyBox.open = false;
  document.body.dataset.ready = "yes";
}

keyForm.addEventListener("submit", (e) => {
  e.preventDefault();
  storeKey(keyInput.value.trim());
  keyInput.value = "";
  start();
});
document.querySelector("#key-forget").addEventListener("click", () => {
  storeKey("");
  keyInput.value = "";
  state.textContent = "Key forgotten.";
});

start();
