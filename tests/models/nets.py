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


class GptDecoder(nn.Module):
    """A GPT-style decoder: token + learned position embeddings, pre-norm blocks of causal self-attention
    (one fused QKV projection, attention written out as MatMul/Softmax the way GPT-2 exports look) and a
    tanh-GELU MLP, a final LayerNorm and a language-model head. Takes int64 token ids (batch, sequence)."""

    def __init__(self, dim: int = 64, heads: int = 4, layers: int = 2, max_len: int = 128, vocab: int = VOCAB):
        super().__init__()
        self.heads = heads
        self.token_embed = nn.Embedding(vocab, dim)
        self.pos_embed = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList(_GptBlock(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.register_buffer("causal", torch.tril(torch.ones(max_len, max_len, dtype=torch.bool)), persistent=False)

    def forward(self, input_ids):
        seq = input_ids.shape[1]
        positions = torch.arange(seq, device=input_ids.device).unsqueeze(0)
        x = self.token_embed(input_ids) + self.pos_embed(positions)
        mask = self.causal[:seq, :seq]
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.norm(x))


class _GptBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, 4 * dim)
        self.out = nn.Linear(4 * dim, dim)

    def forward(self, x, mask):
        batch, seq, dim = x.shape
        head_dim = dim // self.heads
        q, k, v = self.qkv(self.norm1(x)).split(dim, dim=2)
        q, k, v = (t.reshape(batch, seq, self.heads, head_dim).transpose(1, 2) for t in (q, k, v))
        scores = torch.matmul(q, k.transpose(-2, -1)) / (head_dim ** 0.5)
        scores = scores.masked_fill(~mask, float("-inf"))
        attn = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(batch, seq, dim)
        x = x + self.proj(attn)
        return x + self.out(F.gelu(self.fc(self.norm2(x)), approximate="tanh"))


def gpt_decoder() -> nn.Module:
    return GptDecoder()


class LstmTagger(nn.Module):
    """A sequence tagger: token embeddings, one bidirectional LSTM layer, a per-token linear classifier."""

    def __init__(self, embed: int = 32, hidden: int = 32, tags: int = 9, vocab: int = VOCAB):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        self.classify = nn.Linear(2 * hidden, tags)

    def forward(self, input_ids):
        output, _ = self.lstm(self.embed(input_ids))
        return self.classify(output)


def lstm_tagger() -> nn.Module:
    return LstmTagger()


class GruClassifier(nn.Module):
    """An audio-style recurrent classifier: (batch, time, features) through stacked GRUs, the last step's state
    to a linear layer."""

    def __init__(self, features: int = 16, hidden: int = 32, layers: int = 2, classes: int = 10):
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=layers, batch_first=True)
        self.classify = nn.Linear(hidden, classes)

    def forward(self, x):
        output, _ = self.gru(x)
        return self.classify(output[:, -1])


def gru_classifier() -> nn.Module:
    return GruClassifier()


class ConvTransposeGenerator(nn.Module):
    """A DCGAN generator: a latent (batch, latent, 1, 1) up to a (batch, 3, 4 * 2^(blocks), ...) image through
    stride-2 ConvTranspose + BatchNorm + ReLU blocks and a Tanh."""

    def __init__(self, latent: int = 16, width: int = 32, blocks: int = 3):
        super().__init__()
        chans = [width * 2 ** (blocks - 1 - i) for i in range(blocks)]
        layers = [nn.ConvTranspose2d(latent, chans[0], 4, 1, 0, bias=False), nn.BatchNorm2d(chans[0]), nn.ReLU()]
        for c_in, c_out in zip(chans, chans[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(chans[-1], 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


def conv_transpose_generator() -> nn.Module:
    return ConvTransposeGenerator()


class SegmentationOutput(nn.Module):
    """Returns the 'out' entry of a torchvision segmentation model's dict (exporters need a tensor)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def lraspp_mobilenet_v3() -> nn.Module:
    """torchvision's LRASPP on MobileNet-v3-Large, random weights (weights_backbone=None: nothing downloads)."""
    import torchvision
    return SegmentationOutput(torchvision.models.segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=21))
