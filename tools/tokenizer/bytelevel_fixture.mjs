// Writes a small byte-level BPE tokenizer.json in LLaMA-3's layout (Split with LLaMA-3's regex,
// ByteLevel without regex, ByteLevel decoder, TemplateProcessing with <|begin_of_text|>,
// ignore_merges) trained on text of our own, and the ids that Hugging Face's tokenizers.js
// (npm @huggingface/tokenizers, the tokenizer code of @huggingface/transformers) gives for a set
// of test strings. The Java tests compare against the committed output; they never run this.
//
//   cd /tmp/tjs && npm install @huggingface/tokenizers@0.2.0
//   NODE_PATH=/tmp/tjs/node_modules node tools/tokenizer/bytelevel_fixture.mjs model/src/test/resources/bytelevel
import { createRequire } from "module";
import fs from "fs";
import path from "path";

const require = createRequire(process.env.NODE_PATH + "/");
const { Tokenizer } = await import(process.env.NODE_PATH + "/@huggingface/tokenizers/dist/tokenizers.mjs");
const out = process.argv[2];
fs.mkdirSync(out, { recursive: true });

const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// GPT-2's bytes_to_unicode
const b2u = [];
let n = 0;
for (let b = 0; b < 256; b++) {
  const printable = (b >= 33 && b <= 126) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  b2u[b] = String.fromCodePoint(printable ? b : 256 + n++);
}
const mapBytes = (s) => Array.from(Buffer.from(s, "utf8")).map((b) => b2u[b]).join("");

// training text: our own sentences (no third-party text)
const corpus = [
  "the quick models keep the cache of the first token exact",
  "we don't quantize the keys of the pivot tokens, and they'll stay lossless",
  "numbers such as 12345 and 2024 are split into groups of three digits",
  "caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9; \u4e2d\u6587\u6587\u672c and emoji \u{1F600} too",
  "tabs\tand  double  spaces\nand new lines\n\nare kept",
  "The Answer is A. The answer is B! Is it C? It's D.",
].join("\n").repeat(3);
// pre-tokenize with the same pattern (JavaScript 'u' flag; the case-insensitive group spelled out)
const jsPattern = new RegExp(LLAMA3.replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"), "gu");
const words = new Map();
for (const m of corpus.matchAll(jsPattern)) {
  const w = mapBytes(m[0]);
  words.set(w, (words.get(w) ?? 0) + 1);
}
const vocab = {};
for (let b = 0; b < 256; b++) vocab[b2u[b]] = b;
let seqs = [...words.entries()].map(([w, c]) => [Array.from(w), c]);
const merges = [];
while (Object.keys(vocab).length < 400) {
  const pairs = new Map();
  for (const [s, c] of seqs) for (let i = 0; i + 1 < s.length; i++) {
    const k = s[i] + "\u0000" + s[i + 1];
    pairs.set(k, (pairs.get(k) ?? 0) + c);
  }
  let best = null;
  for (const [k, c] of pairs) if (best === null || c > pairs.get(best) || (c === pairs.get(best) && k < best)) best = k;
  if (best === null || pairs.get(best) < 2) break;
  const [a, b] = best.split("\u0000");
  merges.push([a, b]);
  if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  seqs = seqs.map(([s, c]) => {
    const r = [];
    for (let i = 0; i < s.length; i++) {
      if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { r.push(a + b); i++; } else r.push(s[i]);
    }
    return [r, c];
  });
}
const bos = Object.keys(vocab).length;
const tokenizer = {
  version: "1.0",
  added_tokens: [
    { id: bos, content: "<|begin_of_text|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    { id: bos + 1, content: "<|end_of_text|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  ],
  normalizer: null,
  pre_tokenizer: { type: "Sequence", pretokenizers: [
    { type: "Split", pattern: { Regex: LLAMA3 }, behavior: "Isolated", invert: false },
    { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false } ] },
  post_processor: { type: "Sequence", processors: [
    { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
             { SpecialToken: { id: "<|begin_of_text|>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [bos], tokens: ["<|begin_of_text|>"] } } } ] },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
           fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges },
};
fs.writeFileSync(path.join(out, "tokenizer.json"), JSON.stringify(tokenizer, null, 1) + "\n");

const tok = new Tokenizer(tokenizer, { bos_token: "<|begin_of_text|>", eos_token: "<|end_of_text|>" });
const tests = [
  "the quick models keep the cache",
  "we don't quantize; they'll stay, it's fine",
  "WE DON'T SHOUT, I'M SURE",
  "12345 678 9",
  "caf\u00e9 na\u00efve \u4e2d\u6587 \u{1F600}!",
  "tabs\tand  double  spaces\nnew\n\n\nlines  \n end",
  "  leading spaces and trailing ones   ",
  "<|begin_of_text|>special tokens<|end_of_text|> inside text",
  "unseen words: zebra quixotic \u00df\u00fc\u00f1",
  "",
];
const cases = tests.map((t) => ({ text: t, ids: tok.encode(t, { add_special_tokens: false }).ids,
  ids_with_bos: tok.encode(t).ids, decoded: t === "" ? "" : tok.decode(tok.encode(t, { add_special_tokens: false }).ids) }));
fs.writeFileSync(path.join(out, "cases.json"), JSON.stringify({ producer: "@huggingface/tokenizers 0.2.0 (tokenizers.js), node " + process.version, cases }, null, 1) + "\n");
console.log("wrote", out, Object.keys(vocab).length, "pieces,", merges.length, "merges,", cases.length, "cases");
