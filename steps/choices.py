"""The named choices the jobs accept, in one dependency-free module.

The jobs' argument parsers and the pipeline's option table (``pipeline/options.py``) both read
them from here, so a choice is spelled once; importing this costs nothing (no numpy), which
keeps ``costpipe --help`` fast.
"""

#: How the asymmetric loss is computed: sample weights on XGBoost's built-in logistic loss,
#: or the custom gradient and hessian (steps/objective.py).
OBJECTIVE_IMPLEMENTATIONS = ("weighted", "custom")
#: Multi-label models: one booster per label, or one multi-output booster (steps/model.py).
MULTILABEL_STRATEGIES = ("per-label", "multi-output")
#: What each label's threshold minimises: the expected cost, or 1 - F1 (steps/evaluate.py).
THRESHOLD_OBJECTIVES = ("cost", "f1")
#: Cost thresholds on the tuning scores as they are, or under kernel-smoothed score
#: distributions (steps/smoothing.py).
THRESHOLD_SMOOTHINGS = ("kernel", "none")
