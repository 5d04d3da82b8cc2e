// HuggingFace tokenizers (Rust, via the @anush008/tokenizers Node binding) on a text file, one
// encode per line in batches. Threads come from RAYON_NUM_THREADS (set by run.sh): the Rust
// library parallelises encodeBatch over its rayon pool, so 1 = single-threaded.
// Usage: node bench_hf.js TOKENIZER_JSON INPUT_TXT [REPEATS]
'use strict';
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');

async function main() {
  const [tokPath, input, repeatsArg] = process.argv.slice(2);
  const repeats = Number(repeatsArg || 3);
  const tok = Tokenizer.fromFile(tokPath);
  const lines = fs.readFileSync(input, 'utf8').split('\n');
  const bytes = Buffer.byteLength(lines.join('\n'), 'utf8');
  const batch = 1024;
  async function pass() {
    let tokens = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < lines.length; i += batch) {
      const encs = await tok.encodeBatch(lines.slice(i, i + batch), { addSpecialTokens: true });
      for (const e of encs) tokens += e.getLength();
    }
    const t1 = process.hrtime.bigint();
    return { seconds: Number(t1 - t0) / 1e9, tokens };
  }
  await pass();  // warm-up (page cache, BPE cache)
  const runs = [];
  for (let r = 0; r < repeats; ++r) runs.push(await pass());
  runs.sort((a, b) => a.seconds - b.seconds);
  const med = runs[Math.floor(runs.length / 2)];
  console.log(JSON.stringify({ impl: 'hf-tokenizers', seconds: med.seconds, bytes, tokens: med.tokens, lines: lines.length }));
}
main().catch((e) => { console.error(e); process.exit(1); });
