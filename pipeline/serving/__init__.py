"""Using the registered model on this machine: ``costpipe predict`` and ``costpipe serve``.

``container`` replays the stock XGBoost container's serving sequence around the handlers in
``steps/inference.py``; ``app`` is SageMaker's HTTP contract on top of it; ``predict`` scores
files; ``commands`` adds both to the command line. ``container`` needs only the standard
library (and the handlers' own numpy, pandas, scikit-learn, xgboost), so it also runs under the
container-parity interpreter (Python 3.10 with the image's pins).
"""
