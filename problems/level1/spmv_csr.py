import torch
import torch.nn as nn
import warnings


class Model(nn.Module):
    """Sparse matrix (CSR, int32 indices) times dense vector."""

    def __init__(self):
        super().__init__()

    def forward(self, crow: torch.Tensor, col: torch.Tensor, val: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            a = torch.sparse_csr_tensor(crow, col, val, size=(crow.numel() - 1, x.numel()), check_invariants=False)
            return torch.mv(a, x)


rows = 1048576
cols = 1048576
min_nnz = 16
max_nnz = 48


def get_inputs():
    counts = torch.randint(min_nnz, max_nnz, (rows,))
    crow = torch.zeros(rows + 1, dtype=torch.int32)
    crow[1:] = torch.cumsum(counts, 0)
    nnz = int(crow[-1])
    col = torch.randint(0, cols, (nnz,), dtype=torch.int32)
    return [crow, col, torch.randn(nnz), torch.randn(cols)]


def get_init_inputs():
    return []
