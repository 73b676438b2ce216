"""Survival losses on the models' outputs.

``nll_survival_loss`` is the discrete-time negative log-likelihood of Zadeh & Schmid (2020) used by the
CLAM / Patch-GCN / PORPOISE family and by the original CrossFusion: for a patient in bin ``y`` with
hazards ``h`` and survival ``S_k = prod_{j<=k} (1 - h_j)`` (``S_{-1} = 1``),

- death observed (c = 0): ``-log S_{y-1} - log h_y``  (survived the bins before, died in bin ``y``)
- censored (c = 1):        ``-log S_y``               (survived at least through bin ``y``)

and the loss is ``(1 - alpha) * (censored + uncensored) + alpha * uncensored``, i.e. ``alpha`` puts extra
weight on the patients whose death was observed. It is computed from the logits with ``logsigmoid``
(``log h = logsigmoid(l)``, ``log(1 - h) = logsigmoid(-l)``), which is exact where the original clamps
probabilities at 1e-7 and so keeps gradients alive for confident predictions.

``cox_partial_likelihood_loss`` is the Cox partial likelihood (Breslow ties) over a set of patients. It
needs several patients at once, but bags are fed one at a time; the training loop therefore keeps the
risks of the bags of one gradient-accumulation window (with their graphs) and applies the loss to the
window as a whole, so the window is the Cox "batch" (see ``training.loop``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nll_survival_loss(
    logits: torch.Tensor, label_bin: torch.Tensor, censorship: torch.Tensor, alpha: float = 0.2
) -> torch.Tensor:
    """Mean discrete-time NLL over a batch: ``logits`` (B, n_bins); ``label_bin``, ``censorship`` (B,)."""
    logits = logits.float().reshape(label_bin.shape[0], -1)
    label_bin = label_bin.long().reshape(-1, 1)
    censored = censorship.float().reshape(-1)
    log_survival = torch.cumsum(F.logsigmoid(-logits), dim=1)
    log_survival_padded = F.pad(log_survival, (1, 0), value=0.0)
    log_survival_before = log_survival_padded.gather(1, label_bin).squeeze(1)
    log_survival_through = log_survival_padded.gather(1, label_bin + 1).squeeze(1)
    log_hazard = F.logsigmoid(logits).gather(1, label_bin).squeeze(1)
    uncensored = -(1.0 - censored) * (log_survival_before + log_hazard)
    censored_term = -censored * log_survival_through
    return ((1.0 - alpha) * (censored_term + uncensored) + alpha * uncensored).mean()


def cox_partial_likelihood_loss(
    risk: torch.Tensor, survival_months: torch.Tensor, censorship: torch.Tensor
) -> torch.Tensor:
    """Negative Cox log partial likelihood, averaged over observed deaths; ``risk`` is a log hazard ratio.

    For each patient ``i`` who died, ``-(r_i - log sum_{j: t_j >= t_i} exp(r_j))``. A set without any
    observed death carries no information and gives zero (with a graph, so ``backward`` still works).
    """
    risk = risk.float().reshape(-1)
    times = survival_months.float().reshape(-1)
    events = 1.0 - censorship.float().reshape(-1)
    at_risk = times.unsqueeze(0) >= times.unsqueeze(1)
    log_risk_set = torch.logsumexp(risk.unsqueeze(0).masked_fill(~at_risk, float("-inf")), dim=1)
    n_events = events.sum()
    if n_events == 0:
        return risk.sum() * 0.0
    return -((risk - log_risk_set) * events).sum() / n_events
