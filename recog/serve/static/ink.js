// The handwriting panel: pointer events on the canvas become strokes of [x, y, t] points
// (CSS pixels from the canvas's top left, y down; t in ms from the ink's first point), posted
// as JSON ink {"strokes": [[[x, y, t], ...], ...]} shortly after each pen-up.
//
// Recognition: a pen-up waits DEBOUNCE_MS for the next stroke; a pen-down cancels that wait.
// One request is in flight at a time; a result is shown only if the ink has not changed
// since it was sent (else the newer ink is sent at once). The section's data attributes say
// where it stands, for people and tests alike:
//   data-state      empty | waiting (a request is due or in flight) | shown | error
//   data-strokes    the stroke count of the ink whose text is shown
//   data-latency-ms from the pen-up (or undo) to the text in the page, performance.now()

import { ApiError, transcribe } from "./api.js";

export const DEBOUNCE_MS = 40;
const LINE_WIDTH = 2.5;

export class InkPanel {
  constructor(root, onAuthError) {
    this.root = root;
    this.canvas = root.querySelector("#ink-canvas");
    this.ctx = this.canvas.getContext("2d");
    this.text = root.querySelector("#ink-text");
    this.words = root.querySelector("#ink-words");
    this.error = root.querySelector("#ink-error");
    this.timing = root.querySelector("#ink-timing");
    this.undoButton = root.querySelector("#ink-undo");
    this.clearButton = root.querySelector("#ink-clear");
    this.onAuthError = onAuthError;
    this.model = "";
    this.strokes = [];      // [[[x, y, t], ...], ...]
    this.current = null;    // the stroke being drawn
    this.pointer = null;    // its pointerId
    this.t0 = null;         // event time of the ink's first point
    this.version = 0;       // bumped on every change of the strokes
    this.changedAt = 0;     // performance.now() of the last change
    this.timer = 0;
    this.inFlight = false;
    this.resize();
    new ResizeObserver(() => this.resize()).observe(this.canvas);
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    this.canvas.addEventListener("pointerup", (e) => this.up(e));
    this.canvas.addEventListener("pointercancel", (e) => this.up(e));
    this.undoButton.addEventListener("click", () => this.undo());
    this.clearButton.addEventListener("click", () => this.clear());
    this.canvas.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "z") { e.preventDefault(); this.undo(); }
      if (e.key === "Escape") this.clear();
    });
  }

  setModel(name) {
    this.model = name;
    if (this.strokes.length) this.changed(performance.now());
  }

  // ---- drawing ------------------------------------------------------------------------
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = this.canvas.getBoundingClientRect();
    this.canvas.width = Math.max(1, Math.round(width * ratio));
    this.canvas.height = Math.max(1, Math.round(height * ratio));
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.redraw();
  }

  redraw() {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.lineWidth = LINE_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = getComputedStyle(this.canvas).color;
    for (const stroke of this.strokes) this.drawStroke(stroke, 0);
  }

  drawStroke(stroke, from) {
    const ctx = this.ctx;
    ctx.beginPath();
    const start = stroke[Math.max(0, from - 1)];
    ctx.moveTo(start[0], start[1]);
    for (let i = Math.max(0, from - 1); i < stroke.length; i++) ctx.lineTo(stroke[i][0], stroke[i][1]);
    if (stroke.length === 1) ctx.lineTo(start[0] + 0.01, start[1]);  // a dot
    ctx.stroke();
  }

  point(e) {
    const rect = this.canvas.getBoundingClientRect();
    const stamp = e.timeStamp || performance.now();
    if (this.t0 === null) this.t0 = stamp;
    const round = (v) => Math.round(v * 10) / 10;
    return [round(e.clientX - rect.left), round(e.clientY - rect.top), round(stamp - this.t0)];
  }

  add(e) {
    const p = this.point(e);
    const last = this.current[this.current.length - 1];
    if (last && last[0] === p[0] && last[1] === p[1]) return;
    this.current.push(p);
  }

  down(e) {
    if (!e.isPrimary || this.current !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    clearTimeout(this.timer);  // writing goes on: wait for its pen-up
    this.timer = 0;
    this.pointer = e.pointerId;
    this.current = [];
    this.add(e);
  }

  move(e) {
    if (this.current === null || e.pointerId !== this.pointer) return;
    const from = this.current.length;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const c of events.length ? events : [e]) this.add(c);
    if (this.current.length > from) this.drawStroke(this.current, from);
  }

  up(e) {
    if (this.current === null || e.pointerId !== this.pointer) return;
    const at = performance.now();
    const stroke = this.current;
    this.current = null;
    this.pointer = null;
    this.strokes.push(stroke);
    this.drawStroke(stroke, 0);
    this.changed(at, DEBOUNCE_MS);
  }

  undo() {
    if (!this.strokes.length) return;
    this.strokes.pop();
    if (!this.strokes.length) this.t0 = null;
    this.redraw();
    this.changed(performance.now());
  }

  clear() {
    this.strokes = [];
    this.t0 = null;
    this.redraw();
    this.changed(performance.now());
  }

  // ---- recognition --------------------------------------------------------------------
  changed(at, delay = 0) {
    this.version += 1;
    this.changedAt = at;
    this.undoButton.disabled = this.clearButton.disabled = !this.strokes.length;
    clearTimeout(this.timer);
    if (!this.strokes.length) {
      this.timer = 0;
      this.show(null);
      return;
    }
    this.root.dataset.state = "waiting";
    this.timer = setTimeout(() => { this.timer = 0; this.send(); }, delay);
  }

  async send() {
    if (this.inFlight || !this.strokes.length || !this.model) return;
    const version = this.version;
    const strokes = this.strokes.length;
    const body = JSON.stringify({ strokes: this.strokes });
    this.inFlight = true;
    let result = null;
    let failure = null;
    try {
      result = await transcribe(body, "application/json", this.model);
    } catch (err) {
      failure = err;
    }
    this.inFlight = false;
    if (version !== this.version) {
      // the ink changed meanwhile: send it now unless a stroke is being drawn or a send is due
      if (this.current === null && !this.timer) this.send();
      return;
    }
    if (failure) {
      this.fail(failure);
      return;
    }
    this.show(result, strokes);
  }

  show(result, strokes = 0) {
    this.error.hidden = true;
    this.words.replaceChildren();
    if (result === null) {
      this.text.textContent = "";
      this.timing.textContent = "";
      this.root.dataset.state = "empty";
      this.root.dataset.strokes = "0";
      return;
    }
    this.text.textContent = result.text;
    for (const w of result.words) {
      const li = document.createElement("li");
      const percent = Math.round(100 * w.confidence);
      li.style.setProperty("--confidence", w.confidence.toFixed(3));
      li.title = `confidence ${percent} %`;
      const word = document.createElement("span");
      word.className = "word";
      word.textContent = w.word;
      const conf = document.createElement("span");
      conf.className = "conf";
      conf.textContent = `${percent} %`;
      li.append(word, conf);
      this.words.append(li);
    }
    const latency = performance.now() - this.changedAt;
    this.root.dataset.latencyMs = latency.toFixed(1);
    this.root.dataset.strokes = String(strokes);
    this.root.dataset.state = "shown";
    const server = result.timings_ms ? ` (service ${Math.round(result.timings_ms.total)} ms)` : "";
    this.timing.textContent = `${Math.round(latency)} ms after pen-up${server}`;
  }

  fail(err) {
    this.root.dataset.state = "error";
    this.error.textContent = err.message;
    this.error.hidden = false;
    if (err instanceof ApiError && err.status === 401) this.onAuthError(err);
  }
}
