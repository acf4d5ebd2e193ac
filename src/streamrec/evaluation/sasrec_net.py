"""SASRec's network (Kang & McAuley 2018): causal self-attention over the user's last items.

Tokens: 0 pads (on the left), 1 starts every sequence (so a user with no history
still gets a learned list: what users tend to pick first), item row ``r`` is
token ``r + 2``. The item embeddings are shared between input and output; the
next item is scored by ``h . e_item`` and trained with a full softmax over every
known item (cheap at these catalogue sizes, and closer to full-ranking
evaluation than the paper's one sampled negative).
"""

from __future__ import annotations

import torch
from torch import nn

PAD, START, OFFSET = 0, 1, 2


class Block(nn.Module):
    """Pre-norm self-attention and a point-wise feed-forward layer, both residual."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, 1, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q = self.norm1(x)
        x = x + self.dropout(self.attention(q, q, q, attn_mask=mask, need_weights=False)[0])
        return x + self.dropout(self.ffn(self.norm2(x)))


class SASRecNet(nn.Module):
    def __init__(
        self, capacity: int, dim: int = 64, blocks: int = 2, max_len: int = 50, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.dim, self.max_len = dim, max_len
        self.items = nn.Embedding(capacity + OFFSET, dim, padding_idx=PAD)
        self.positions = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList(Block(dim, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.items.weight, 0.0, dim**-0.5)
        with torch.no_grad():
            self.items.weight[PAD].zero_()

    @property
    def capacity(self) -> int:
        return self.items.num_embeddings - OFFSET

    def grow(self, capacity: int) -> tuple[nn.Parameter, nn.Parameter]:
        """A bigger item table, old rows kept, new rows drawn like the first ones."""
        old = self.items.weight
        table = nn.Embedding(capacity + OFFSET, self.dim, padding_idx=PAD)
        nn.init.normal_(table.weight, 0.0, self.dim**-0.5)
        with torch.no_grad():
            table.weight[: len(old)] = old
        self.items = table
        return old, table.weight

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """(batch, max_len) left-padded tokens -> (batch, max_len, dim) states."""
        # positions count from the window's first token, as in training, whatever the padding
        positions = ((tokens != PAD).cumsum(1) - 1).clamp(min=0)
        x = self.items(tokens) * self.dim**0.5 + self.positions(positions)
        x = self.dropout(x) * (tokens != PAD).unsqueeze(-1)
        mask = _mask(tokens)
        for block in self.blocks:
            x = block(x, mask) * (tokens != PAD).unsqueeze(-1)
        return self.norm(x)

    def logits(self, states: torch.Tensor, n_items: int) -> torch.Tensor:
        """Scores of the first ``n_items`` item rows for each state."""
        return states @ self.items.weight[OFFSET : OFFSET + n_items].T


def _mask(tokens: torch.Tensor) -> torch.Tensor:
    """Causal, pads never attended, except each position by itself (no empty softmax)."""
    length = tokens.shape[1]
    future = torch.ones(length, length, dtype=torch.bool).triu(1)
    pad_keys = (tokens == PAD).unsqueeze(1).expand(-1, length, -1)
    blocked = (future | pad_keys) & ~torch.eye(length, dtype=torch.bool)
    return blocked


def windows(sequence: list[int], max_len: int) -> list[list[int]]:
    """Training windows of ``max_len + 1`` tokens covering the whole sequence, newest first."""
    tokens = [START] + [row + OFFSET for row in sequence]
    out = []
    for end in range(len(tokens), 1, -max_len):
        out.append(tokens[max(0, end - max_len - 1) : end])
    return out


def pad_left(rows: list[list[int]], length: int) -> torch.Tensor:
    out = torch.full((len(rows), length), PAD, dtype=torch.long)
    for n, row in enumerate(rows):
        if row:
            out[n, -len(row) :] = torch.tensor(row[-length:], dtype=torch.long)
    return out


def loss_on(net: SASRecNet, batch: list[list[int]], n_items: int) -> torch.Tensor:
    """Next-item cross-entropy over every known item, on every position of each window."""
    inputs = pad_left([w[:-1] for w in batch], net.max_len)
    targets = pad_left([w[1:] for w in batch], net.max_len)
    keep = targets != PAD
    states = net.hidden(inputs)[keep]
    return nn.functional.cross_entropy(net.logits(states, n_items), targets[keep] - OFFSET)


def user_scores(net: SASRecNet, sequence: list[int], n_items: int) -> torch.Tensor:
    """Scores of the next item after ``sequence`` (item rows), the network in eval mode."""
    tokens = torch.tensor([([START] + [row + OFFSET for row in sequence])[-net.max_len :]])
    with torch.no_grad():
        state = net.hidden(tokens)[0, -1]
        return net.logits(state[None], n_items)[0]
