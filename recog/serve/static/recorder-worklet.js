// AudioWorklet processor "recorder": posts each block of the first input channel
// (Float32Array, the context's sample rate) to the page until it is told "stop".

class Recorder extends AudioWorkletProcessor {
  constructor() {
    super();
    this.running = true;
    this.port.onmessage = (e) => {
      if (e.data === "stop") this.running = false;
    };
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (this.running && channel) this.port.postMessage(channel.slice(0));
    return this.running;
  }
}

registerProcessor("recorder", Recorder);
