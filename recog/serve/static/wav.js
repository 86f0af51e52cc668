// Mono 16-bit PCM WAV from float samples.
//
//   const blob = encodeWav(samples, 48000);   // samples: Float32Array in [-1, 1], rate in Hz
//
// Samples beyond [-1, 1] are clipped; the file is the 44-byte RIFF header + 2 bytes a sample.

export function encodeWav(samples, rate) {
  const bytes = 2 * samples.length;
  const view = new DataView(new ArrayBuffer(44 + bytes));
  const ascii = (offset, text) => {
    for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i));
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + bytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);        // fmt chunk size
  view.setUint16(20, 1, true);         // PCM
  view.setUint16(22, 1, true);         // channels
  view.setUint32(24, rate, true);      // sample rate
  view.setUint32(28, 2 * rate, true);  // bytes a second
  view.setUint16(32, 2, true);         // bytes a frame
  view.setUint16(34, 16, true);        // bits a sample
  ascii(36, "data");
  view.setUint32(40, bytes, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + 2 * i, s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff), true);
  }
  return new Blob([view.buffer], { type: "audio/wav" });
}

// The concatenation of Float32Array chunks.
export function joinChunks(chunks) {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
