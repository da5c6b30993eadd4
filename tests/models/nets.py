"""The suite's own small networks, each shaped like a model people export, with random weights.

Each builder returns an nn.Module; export_models.py seeds torch before calling it, puts it in eval mode and
exports it. Sizes are small so export and the reference run stay fast in CI; the op mix is what matters.
"""
import math
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from model_zoo import VOCAB

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
from make_demo_model import UPSCALE_FACTOR, SuperResolutionNet  # noqa: E402  (the demo model's class)


def super_resolution() -> nn.Module:
    return SuperResolutionNet(UPSCALE_FACTOR)


class SegmentationNet(nn.Module):
    """Two stride-2 conv blocks, a 1x1 classifier, then bilinear upsampling back to the input's size.

    The upsample takes its size from the input (`x.shape[-2:]`), so the export computes the Resize sizes
    with Shape/Slice/Concat at run time, as semantic segmentation heads (FCN, DeepLab) do.
    """

    def __init__(self, classes: int = 5):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.classifier = nn.Conv2d(32, classes, 1)

    def forward(self, x):
        y = self.classifier(self.encoder(x))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


def segmentation_net() -> nn.Module:
    return SegmentationNet()


class TinyViT(nn.Module):
    """A vision transformer: patch-embedding conv, class token, learned positions, pre-norm encoder, head.

    The position table fixes the number of patches, so only the batch is variable.
    """

    def __init__(self, image: int = 32, patch: int = 8, dim: int = 64, heads: int = 4, layers: int = 2,
                 classes: int = 10):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        patches = (image // patch) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, patches + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=0.1,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (batch, patches, dim)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.encoder(x)
        return self.head(self.norm(x[:, 0]))


def tiny_vit() -> nn.Module:
    return TinyViT()


class TinyBert(nn.Module):
    """A BERT-style encoder: token + position embeddings, LayerNorm, post-norm encoder, tanh pooler.

    Takes int64 token ids and a 0/1 attention mask (1 = real token) like Hugging Face models; padding is
    masked out of attention through src_key_padding_mask.
    """

    def __init__(self, dim: int = 64, heads: int = 4, layers: int = 2, max_len: int = 128):
        super().__init__()
        self.token_embed = nn.Embedding(VOCAB, dim)
        self.pos_embed = nn.Embedding(max_len, dim)
        self.embed_norm = nn.LayerNorm(dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=0.1,
                                           activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.pooler = nn.Linear(dim, dim)

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.embed_norm(self.token_embed(input_ids) + self.pos_embed(positions))
        hidden = self.encoder(x, src_key_padding_mask=attention_mask == 0)
        return hidden, torch.tanh(self.pooler(hidden[:, 0]))


def tiny_bert() -> nn.Module:
    return TinyBert()


class TanhGELU(nn.Module):
    """GPT-2's GELU, written out as GPT-2 and nanoGPT write it (exports as Pow/Mul/Add/Tanh)."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class CausalBlock(nn.Module):
    """A pre-norm GPT block with hand-written attention: fused QKV projection, heads by view/transpose, scores
    scaled after QK^T, the causal mask applied with masked_fill from a registered buffer, tanh GELU MLP."""

    def __init__(self, dim: int, heads: int, max_len: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc, self.fc2, self.act = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim), TanhGELU()
        self.register_buffer("causal", torch.tril(torch.ones(max_len, max_len)).view(1, 1, max_len, max_len))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = F.softmax(att.masked_fill(self.causal[:, :, :t, :t] == 0, float("-inf")), dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).contiguous().view(b, t, c))
        return x + self.fc2(self.act(self.fc(self.ln2(x))))


class TinyGPT(nn.Module):
    """A GPT-style decoder: token + learned position embeddings, causal blocks, final LayerNorm, tied-free head."""

    def __init__(self, dim: int = 64, heads: int = 4, layers: int = 2, max_len: int = 64):
        super().__init__()
        self.token_embed = nn.Embedding(VOCAB, dim)
        self.pos_embed = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList(CausalBlock(dim, heads, max_len) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, VOCAB, bias=False)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.token_embed(input_ids) + self.pos_embed(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def tiny_gpt() -> nn.Module:
    return TinyGPT()


class BidirectionalLSTM(nn.Module):
    """A 2-layer bidirectional LSTM over (batch, time, 16) features; returns output, h_n, c_n."""

    def __init__(self, features: int = 16, hidden: int = 32):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, batch_first=True, bidirectional=True)

    def forward(self, x):
        output, (h_n, c_n) = self.lstm(x)
        return output, h_n, c_n


def bidirectional_lstm() -> nn.Module:
    return BidirectionalLSTM()
