#!/usr/bin/env bash
# Puts the upstream code that the conformance generators import, at the pinned
# commits, into $MIMKIT_UPSTREAM (default: .upstream/ in the repository root,
# ignored by git; nothing of it is ever committed). One folder per pin, named
# as below; a folder that exists already is kept.
#
#   bash tests/conformance/gen/upstream.sh            # clones from github.com
#   MIMKIT_UPSTREAM_MIRROR=/work/.mirror bash tests/conformance/gen/upstream.sh
#       # reads <owner>+<name>/repo bare git directories there instead (offline)
#
# The generators find a pin at $MIMKIT_UPSTREAM/<folder>; each folder can also
# be given on its own, e.g. MIMKIT_UPSTREAM_MAE=/path/to/mae (see _common.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
dest="${MIMKIT_UPSTREAM:-$PWD/.upstream}"
mkdir -p "$dest"

# folder  owner/name  commit  paths taken (the code only; large data files stay out)
PINS="
timm        huggingface/pytorch-image-models aa4b5850c1543fa488abf260f18390eda46cf85d timm
timm-0.4.5  huggingface/pytorch-image-models 5b28ef410062af2a2ab1f27bf02cf33e2ba28ca2 timm
timm-0.4.9  huggingface/pytorch-image-models e7f0db866412b9ae61332c205270c9fc0ef5083c timm
timm-0.4.12 huggingface/pytorch-image-models 7096b52a613eefb4f6d8107366611c8983478b19 timm
timm-0.6.13 huggingface/pytorch-image-models 2696eedd1b1763b9da06e68c1af3c5ed360fe687 timm
mae         facebookresearch/mae             efb2a8062c206524e35e47d04501ed4f544c0ae8 models_mae.py,util
simmim      microsoft/SimMIM                 d3e29bcac950b83edc34ca33fe4404f38309052c models,config.py,data
unilm       microsoft/unilm                  768a3c873f598bb9b4d4dfb9267b099e35f8fe56 beit,beit3
torchscale  microsoft/torchscale             4d1e0e82e5adf86dd424f1463192635b73fc8efc torchscale
open_clip   mlfoundations/open_clip          89fb801f1e6087880e951fc8354b8a2077b79c6d src/open_clip
moco-v3     facebookresearch/moco-v3         c349e6e24f40d3fedb22d973f92defa4cedf37a7 moco,vits.py
dino        facebookresearch/dino            7c446df5b9f45747937fb0d72314eb9f7b66930a main_dino.py,utils.py,vision_transformer.py
simsiam     facebookresearch/simsiam         a7bc1772896d0dad0806c51f0bb6f3b16d290468 main_simsiam.py,simsiam
tinymim     OliverRensu/TinyMIM              d0847051aa00c171de0c31344079565bf853f503 models_tinymim.py,models_teacher.py,models_vit.py,vit.py,util,utils.py
"

while read -r folder repo commit paths; do
  [ -z "$folder" ] && continue
  if [ -d "$dest/$folder" ]; then echo "have $folder"; continue; fi
  if [ -n "${MIMKIT_UPSTREAM_MIRROR:-}" ]; then
    src="$MIMKIT_UPSTREAM_MIRROR/${repo/\//+}/repo"
  else
    src="$dest/.git-$(basename "$repo")"
    [ -d "$src" ] || git clone --bare --filter=blob:none "https://github.com/$repo" "$src"
  fi
  mkdir -p "$dest/$folder.tmp"
  git -C "$src" archive "$commit" ${paths//,/ } | tar -x -C "$dest/$folder.tmp"
  echo "$repo@$commit" >"$dest/$folder.tmp/.pin"
  mv "$dest/$folder.tmp" "$dest/$folder"
  echo "got $folder ($repo@$commit)"
done <<<"$PINS"
