// The speech panel: an uploaded file (multipart, field "file") or a microphone recording
// (Web Audio, encoded here as mono 16-bit PCM WAV at the microphone's rate; the service
// resamples it to the model's rate) is posted to /v1/transcribe; the transcript and each
// word's start and end (seconds) and confidence are shown. The section's data-state is
// empty | recording | waiting | shown | error.

import { ApiError, transcribe } from "./api.js";
import { encodeWav, joinChunks } from "./wav.js";

const MAX_SECONDS = 60;  // a recording stops by itself after this

export class SpeechPanel {
  constructor(root, onAuthError) {
    this.root = root;
    this.file = root.querySelector("#speech-file");
    this.recordButton = root.querySelector("#speech-record");
    this.clock = root.querySelector("#speech-clock");
    this.audio = root.querySelector("#speech-audio");
    this.text = root.querySelector("#speech-text");
    this.table = root.querySelector("#speech-words");
    this.error = root.querySelector("#speech-error");
    this.onAuthError = onAuthError;
    this.model = "";
    this.recording = null;
    this.file.addEventListener("change", () => this.upload());
    this.recordButton.addEventListener("click", () => (this.recording ? this.stop() : this.record()));
    if (!navigator.mediaDevices || !window.AudioWorkletNode) {
      this.recordButton.disabled = true;
      this.clock.textContent = "recording needs a secure page (https or localhost)";
    }
  }

  setModel(name) {
    this.model = name;
  }

  async upload() {
    const file = this.file.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file, file.name);
    this.clock.textContent = "";
    this.play(file);
    await this.send(form, null);
  }

  async record() {
    this.hideError();
    // the recorder is ready before the microphone opens, so the first word is not cut
    const context = new AudioContext();
    await context.audioWorklet.addModule("/static/recorder-worklet.js");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
    } catch (err) {
      await context.close();
      this.fail(new Error(`no microphone: ${err.message}`));
      return;
    }
    const source = context.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(context, "recorder", { channelCount: 1, channelCountMode: "explicit" });
    const chunks = [];
    node.port.onmessage = (e) => chunks.push(e.data);
    source.connect(node);
    node.connect(context.destination);  // silent: the processor writes no output
    const started = performance.now();
    const tick = setInterval(() => {
      const seconds = (performance.now() - started) / 1000;
      this.clock.textContent = `recording ${seconds.toFixed(1)} s`;
      if (seconds >= MAX_SECONDS) this.stop();
    }, 100);
    this.recording = { stream, context, node, chunks, tick };
    this.recordButton.textContent = "Stop";
    this.recordButton.setAttribute("aria-pressed", "true");
    this.root.dataset.state = "recording";
  }

  async stop() {
    const { stream, context, node, chunks, tick } = this.recording;
    this.recording = null;
    clearInterval(tick);
    node.port.postMessage("stop");
    stream.getTracks().forEach((t) => t.stop());
    const rate = context.sampleRate;
    await context.close();
    this.recordButton.textContent = "Record";
    this.recordButton.setAttribute("aria-pressed", "false");
    const samples = joinChunks(chunks);
    this.clock.textContent = `recorded ${(samples.length / rate).toFixed(1)} s at ${rate} Hz`;
    const wav = encodeWav(samples, rate);
    this.play(wav);
    await this.send(await wav.arrayBuffer(), "audio/wav");
  }

  play(blob) {
    if (this.audio.src) URL.revokeObjectURL(this.audio.src);
    this.audio.src = URL.createObjectURL(blob);
    this.audio.hidden = false;
  }

  async send(body, contentType) {
    this.hideError();
    this.root.dataset.state = "waiting";
    this.text.textContent = "…";
    try {
      this.show(await transcribe(body, contentType, this.model));
    } catch (err) {
      this.text.textContent = "";
      this.fail(err);
    }
  }

  show(result) {
    this.text.textContent = result.text;
    const rows = result.words.map((w) => {
      const tr = document.createElement("tr");
      for (const value of [w.word, w.start.toFixed(2), w.end.toFixed(2), `${Math.round(100 * w.confidence)} %`]) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.append(td);
      }
      return tr;
    });
    this.table.tBodies[0].replaceChildren(...rows);
    this.table.hidden = !rows.length;
    this.root.dataset.state = "shown";
  }

  hideError() {
    this.error.hidden = true;
  }

  fail(err) {
    this.root.dataset.state = "error";
    this.table.hidden = true;
    this.error.textContent = err.message;
    this.error.hidden = false;
    if (err instanceof ApiError && err.status === 401) this.onAuthError(err);
  }
}
