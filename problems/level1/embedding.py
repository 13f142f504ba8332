import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Embedding lookup: gather one row of the table per token id."""

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.table = nn.Embedding(num_embeddings, embedding_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table(ids)


num_embeddings = 32768
embedding_dim = 2048
batch_size = 32
seq_len = 2048


def get_inputs():
    return [torch.randint(0, num_embeddings, (batch_size, seq_len))]


def get_init_inputs():
    return [num_embeddings, embedding_dim]
