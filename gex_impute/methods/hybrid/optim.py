"""The optimizer of the hybrid's small torch networks (promoter CNN, tissue encoder).

``torch.optim``'s optimizers import ``torch._dynamo`` when the first one is made (about 1.5 s
on 2 cores, a third of the promoter CNN's whole training on 2,000 genes); :class:`AdamW` here is
``torch.optim.AdamW``'s CPU update without that import (``tests/test_hybrid_genes.py`` checks it
against torch's, step by step).
"""

from __future__ import annotations

from typing import Any

__all__ = ["AdamW"]


class AdamW:
    """AdamW with torch's defaults (betas 0.9 / 0.999, eps 1e-8), the arithmetic of its CPU update.

    ``torch.optim``'s optimizers import ``torch._dynamo`` when the first one is made (1.5 s on
    2 cores, a third of the promoter CNN's whole training on 2,000 genes); this is the same
    update (``torch.optim.AdamW``'s single-tensor path, the one it takes on CPU) without it.

    Examples
    --------
    >>> from gex_impute.methods.hybrid.optim import AdamW
    >>> import torch
    >>> w = torch.nn.Parameter(torch.ones(3))
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.0)
    >>> (w**2).sum().backward()
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, 0.9, 0.9]
    """

    def __init__(
        self, params: Any, *, lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.999)
    ) -> None:
        import torch

        self.params = list(params)
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, 1e-8
        self.exp_avg = [torch.zeros_like(w, memory_format=torch.preserve_format) for w in self.params]
        self.exp_avg_sq = [torch.zeros_like(w, memory_format=torch.preserve_format) for w in self.params]
        self.steps = [0] * len(self.params)

    def zero_grad(self) -> None:
        """Drop the gradients (``set_to_none``, torch's default)."""
        for w in self.params:
            w.grad = None

    def step(self) -> None:
        """One update of every parameter with a gradient."""
        import torch

        beta1, beta2 = self.betas
        with torch.no_grad():
            for i, w in enumerate(self.params):
                if w.grad is None:
                    continue
                grad, exp_avg, exp_avg_sq = w.grad, self.exp_avg[i], self.exp_avg_sq[i]
                self.steps[i] += 1
                step = float(self.steps[i])
                w.mul_(1 - self.lr * self.weight_decay)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step_size = self.lr / (1 - beta1**step)
                denom = (exp_avg_sq.sqrt() / (1 - beta2**step) ** 0.5).add_(self.eps)
                w.addcdiv_(exp_avg, denom, value=-step_size)
