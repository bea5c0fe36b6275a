"""Code that runs inside the SageMaker jobs (and, locally, as their subprocesses).

Everything here imports only the standard library, numpy, pandas, scikit-learn and xgboost,
so the folder can be uploaded as the jobs' source and run in the stock SageMaker XGBoost
container. It never imports ``pipeline`` or ``sagemaker``.

The pure modules (``costs``, ``sweep``, ``objective``, ``metrics``, ``checks``, ``split``,
``data``) hold the logic; ``preprocess``, ``train`` and ``evaluate`` are the jobs' entry points.
"""
