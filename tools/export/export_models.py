#!/usr/bin/env python3
"""Write a synpo model directory (manifest.json + three ONNX graphs) from DINOv2 and SAM 2.1.

    python export_models.py --out models/ \
        --dino facebook/dinov2-giant [--sinder sinder.pth] --dino-size 896 \
        --sam-config configs/sam2.1/sam2.1_hiera_l.yaml --sam-checkpoint checkpoints/sam2.1_hiera_large.pt

Needs: torch, transformers, onnx and the official `sam2` package, plus the checkpoints (this
script downloads nothing itself except what `from_pretrained` fetches for a Hugging Face id).

Graphs over 2 GB (DINOv2 ViT-g/14 in fp32 is about 4.4 GB) keep their weights in one external-data
file next to the graph (`dinov2.onnx.data`), named and checksummed in the manifest.

Contracts written (the ones synpo's ONNX backend checks):
  dinov2.onnx        pixel_values [B,3,S,S] -> last_hidden_state [B, 1 + R + (S/14)^2, C]
  sam2_encoder.onnx  image [1,3,1024,1024] -> image_embed [1,256,64,64] (with the no-memory
                     embedding added), high_res_feats_0 [1,32,256,256], high_res_feats_1 [1,64,128,128]
  sam2_decoder.onnx  image_embed, high_res_feats_0, high_res_feats_1, point_coords [1,N,2]
                     (pixels of the 1024 input), point_labels [1,N], mask_input [1,1,256,256],
                     has_mask_input [1] -> low_res_masks [1,3,256,256], iou_predictions [1,3]
"""
import argparse
import hashlib
import json
import os

import torch
from torch import nn


class DinoTokens(nn.Module):
    """[B,3,S,S] -> [B, 1 + R + N, C]: the CLS token, register tokens, then patch tokens."""

    def __init__(self, model, hub):
        super().__init__()
        self.model = model
        self.hub = hub

    def forward(self, pixel_values):
        if self.hub:  # torch hub DINOv2 (Sinder weights come in its layout)
            f = self.model.forward_features(pixel_values)
            parts = [f["x_norm_clstoken"][:, None], f["x_norm_regtokens"], f["x_norm_patchtokens"]]
            return torch.cat([p for p in parts if p.shape[1] > 0], dim=1)
        # Hugging Face Dinov2Model interpolates its position embeddings to the input size.
        return self.model(pixel_values=pixel_values).last_hidden_state


class SamEncoder(nn.Module):
    """SAM 2.1's image encoder as the image predictor prepares it (no-memory embedding added)."""

    def __init__(self, sam):
        super().__init__()
        self.sam = sam
        self.sizes = [(256, 256), (128, 128), (64, 64)]

    def forward(self, image):
        backbone_out = self.sam.forward_image(image)
        _, vision_feats, _, _ = self.sam._prepare_backbone_features(backbone_out)
        vision_feats[-1] = vision_feats[-1] + self.sam.no_mem_embed
        feats = [f.permute(1, 2, 0).reshape(1, -1, *s) for f, s in zip(vision_feats[::-1], self.sizes[::-1])][::-1]
        return feats[2], feats[0], feats[1]


class SamDecoder(nn.Module):
    """Prompt encoder + mask decoder; the mask prompt is switched by has_mask_input without branching."""

    def __init__(self, sam):
        super().__init__()
        self.prompt = sam.sam_prompt_encoder
        self.decoder = sam.sam_mask_decoder

    def forward(self, image_embed, high_res_feats_0, high_res_feats_1, point_coords, point_labels, mask_input, has_mask_input):
        sparse = self.prompt._embed_points(point_coords, point_labels, pad=True)
        masked = self.prompt._embed_masks(mask_input)
        empty = self.prompt.no_mask_embed.weight.reshape(1, -1, 1, 1).expand_as(masked)
        dense = has_mask_input * masked + (1 - has_mask_input) * empty
        low_res_masks, iou_predictions, _, _ = self.decoder(
            image_embeddings=image_embed,
            image_pe=self.prompt.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
            repeat_image=False,
            high_res_features=[high_res_feats_0, high_res_feats_1],
        )
        return low_res_masks, iou_predictions


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def entry(out, name):
    """A manifest entry for graph `name`: its sha256 and, for graphs over 2 GB, its external data.

    torch.onnx writes a model over 2 GB with one external-data file per weight; they are gathered
    into one `<name>.data` next to the graph (tensors under 1 KiB stay inside it, where shape
    inference reads them), so the manifest can name and checksum it.
    """
    import onnx
    from onnx.external_data_helper import convert_model_to_external_data, load_external_data_for_model

    path = os.path.join(out, name)
    graph = onnx.load(path, load_external_data=False)
    files = {t.external_data[i].value for t in graph.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
             for i in range(len(t.external_data)) if t.external_data[i].key == "location"}
    result = {"file": name, "sha256": sha256(path)}
    if not files:
        return result
    load_external_data_for_model(graph, out)
    convert_model_to_external_data(graph, all_tensors_to_one_file=True, location=f"{name}.data", size_threshold=1024)
    for f in files:
        os.remove(os.path.join(out, f))
    onnx.save_model(graph, path)
    result["sha256"] = sha256(path)
    result["externalData"] = [{"file": f"{name}.data", "sha256": sha256(os.path.join(out, f"{name}.data"))}]
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dino", default="facebook/dinov2-giant", help="Hugging Face id or folder; 'hub:dinov2_vitg14' for torch hub")
    ap.add_argument("--sinder", help="Sinder-repaired weights (.pth) for the torch hub ViT-g/14")
    ap.add_argument("--dino-size", type=int, default=896)
    ap.add_argument("--sam-config", required=True)
    ap.add_argument("--sam-checkpoint", required=True)
    ap.add_argument("--opset", type=int, default=17)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_grad_enabled(False)

    # DINOv2
    hub = a.dino.startswith("hub:") or a.sinder is not None
    if hub:
        name = a.dino[4:] if a.dino.startswith("hub:") else "dinov2_vitg14"
        dino = torch.hub.load("facebookresearch/dinov2", name)
        if a.sinder:
            dino.load_state_dict(torch.load(a.sinder, map_location="cpu"), strict=False)
        registers = getattr(dino, "num_register_tokens", 0)
        channels = dino.embed_dim
    else:
        from transformers import Dinov2Model

        dino = Dinov2Model.from_pretrained(a.dino)
        registers = getattr(dino.config, "num_register_tokens", 0)
        channels = dino.config.hidden_size
    dino.eval()
    s = a.dino_size
    torch.onnx.export(
        DinoTokens(dino, hub), torch.zeros(1, 3, s, s), os.path.join(a.out, "dinov2.onnx"),
        input_names=["pixel_values"], output_names=["last_hidden_state"],
        dynamic_axes={"pixel_values": {0: "batch"}, "last_hidden_state": {0: "batch"}}, opset_version=a.opset,
    )

    # SAM 2.1
    from sam2.build_sam import build_sam2

    sam = build_sam2(a.sam_config, a.sam_checkpoint, device="cpu")
    sam.eval()
    torch.onnx.export(
        SamEncoder(sam), torch.zeros(1, 3, 1024, 1024), os.path.join(a.out, "sam2_encoder.onnx"),
        input_names=["image"], output_names=["image_embed", "high_res_feats_0", "high_res_feats_1"], opset_version=a.opset,
    )
    feats = SamEncoder(sam)(torch.zeros(1, 3, 1024, 1024))
    torch.onnx.export(
        SamDecoder(sam),
        (*feats, torch.zeros(1, 2, 2), torch.ones(1, 2), torch.zeros(1, 1, 256, 256), torch.zeros(1)),
        os.path.join(a.out, "sam2_decoder.onnx"),
        input_names=["image_embed", "high_res_feats_0", "high_res_feats_1", "point_coords", "point_labels", "mask_input", "has_mask_input"],
        output_names=["low_res_masks", "iou_predictions"],
        dynamic_axes={"point_coords": {1: "points"}, "point_labels": {1: "points"}}, opset_version=a.opset,
    )

    manifest = {
        "format": "synpo-models/1",
        "dino": {
            **entry(a.out, "dinov2.onnx"),
            "input": "pixel_values", "output": "last_hidden_state", "size": s, "patchSize": 14,
            "registerTokens": registers, "channels": channels, "batch": True, "interpolation": "bicubic",
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
        },
        "samEncoder": {
            **entry(a.out, "sam2_encoder.onnx"),
            "input": "image", "size": 1024, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "outputs": {"imageEmbed": "image_embed", "highRes0": "high_res_feats_0", "highRes1": "high_res_feats_1"},
        },
        "samDecoder": {
            **entry(a.out, "sam2_decoder.onnx"),
            "outputs": {"masks": "low_res_masks", "iou": "iou_predictions"},
        },
    }
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
